/**
 * Helpers for tests of the engine and workers on the memory backend under TestClock: letting
 * fibers settle, moving time until a condition holds, reading a run's status, and starting a
 * worker the test can stop.
 */
import { assert } from "@effect/vitest"
import { Effect, Exit, Layer, Scope } from "effect"
import { TestClock } from "effect/testing"
import { Engine, type RunStatus, Worker, type Workflow } from "plait"
import { memoryLayer } from "./runs.ts"

/** Lets every runnable fiber (the worker's loop, its runs) reach its next wait. */
export const settle = Effect.gen(function*() {
  for (let i = 0; i < 200; i++) yield* Effect.yieldNow
})

/** Moves time forward in small ticks until `done` holds; fails the test if it never does. */
export const until = <E, R>(done: Effect.Effect<boolean, E, R>, within: number = 120_000, tick = 100) =>
  Effect.gen(function*() {
    for (let elapsed = 0; elapsed <= within; elapsed += tick) {
      yield* settle
      if (yield* done) return
      yield* TestClock.adjust(tick)
    }
    return assert.fail(`not reached within ${within} ms of virtual time`)
  })

export const statusOf = (runId: string) =>
  Effect.map(Engine.Engine.use((engine) => engine.inspect(runId)), (detail) => detail.run.status)

export const hasStatus = (runId: string, status: RunStatus.RunStatus) =>
  Effect.map(statusOf(runId), (s) => s === status)

/** A fresh memory backend with the engine on top. */
export const backend = () => Layer.provideMerge(Engine.layer, memoryLayer())

/** Starts a worker in a scope the test closes when it wants the worker gone. */
export const startWorker = <const W extends ReadonlyArray<Workflow.Workflow<any, any, any, any>>>(
  options: Worker.Options<W>
) =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    const worker = yield* Worker.make(options).pipe(Scope.provide(scope))
    return { worker, stop: Scope.close(scope, Exit.void) }
  })
