/**
 * plait: typed, durable workflow combinators for Effect 4.
 *
 * @since 0.1.0
 */

/**
 * @since 0.1.0
 */
export * as Journal from "./Journal.ts"

/**
 * @since 0.1.0
 */
export * as Workflow from "./Workflow.ts"

/**
 * @since 0.1.0
 */
export * as WorkflowError from "./WorkflowError.ts"

/**
 * @since 0.1.0
 */
export * as SqlJournal from "./SqlJournal.ts"

/**
 * @since 0.1.0
 */
export * as SqliteJournal from "./SqliteJournal.ts"

/**
 * @since 0.1.0
 */
export * as PgJournal from "./PgJournal.ts"

/**
 * @since 0.1.0
 */
export * as RunStore from "./RunStore.ts"

/**
 * @since 0.1.0
 */
export * as Engine from "./Engine.ts"

/**
 * @since 0.1.0
 */
export * as Worker from "./Worker.ts"

/**
 * @since 0.1.0
 */
export * as WorkflowGraph from "./WorkflowGraph.ts"
