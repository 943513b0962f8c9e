/**
 * plait: typed, durable workflow combinators for Effect 4.
 *
 * The Postgres journal is not re-exported here: it is the only module that needs the optional
 * peer `@effect/sql-pg`, so it has its own entry point, `plait/PgJournal`, and an app that uses
 * only the SQLite or in-memory journal can import `plait` without the driver installed.
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
export * as RunStatus from "./RunStatus.ts"

/**
 * @since 0.1.0
 */
export * as RunId from "./RunId.ts"

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
