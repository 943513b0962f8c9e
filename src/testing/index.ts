/**
 * plait's testing kit: `import { Testing } from "plait/testing"`. Built on `effect/testing`'s
 * `TestClock`, for `@effect/vitest`; it needs nothing but `effect`.
 *
 * @since 0.1.0
 */

/**
 * @since 0.1.0
 */
export * as Testing from "./Testing.ts"
