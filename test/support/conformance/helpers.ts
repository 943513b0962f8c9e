/**
 * Helpers shared by the journal conformance suites: fresh run records, leases, loads and
 * expected failures.
 */
import { assert } from "@effect/vitest"
import { Effect, Exit, Option } from "effect"
import { randomUUID } from "node:crypto"
import { Journal } from "plait"

export const newRun = (overrides: Partial<Journal.RunRecord> = {}): Journal.RunRecord => ({
  runId: `run-${randomUUID()}`,
  workflow: `onboard_user_${randomUUID().slice(0, 8)}`,
  fingerprint: "[\"user step\",\"setup parallel\"]",
  input: "{\"email\":\"ada@example.com\"}",
  ...overrides
})

export const loadSome = (runId: string) =>
  Effect.flatMap(Journal.Journal, (journal) => journal.load(runId)).pipe(
    Effect.map((loaded) => Option.getOrThrowWith(loaded, () => new Error(`run ${runId} not found`)))
  )

export const failure = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.flatMap(Effect.exit(effect), (exit) =>
    Exit.isFailure(exit)
      ? Effect.succeed(Option.getOrThrow(Exit.findErrorOption(exit)))
      : Effect.die(new Error("expected the operation to fail")))

export const leaseMs = 60_000

/** Creates (or takes) a run leased to `owner`; fails the test when no lease was granted. */
export const leased = (run: Journal.RunRecord, owner = "executor-a", ms = leaseMs) =>
  Effect.flatMap(Journal.Journal, (journal) => journal.acquire(run, { owner, leaseMs: ms })).pipe(
    Effect.map((acquired) => {
      assert.isDefined(acquired.lease, `no lease on ${run.runId}`)
      return acquired.lease!
    })
  )

export const expectLeaseLost = <A, E, R>(lease: Journal.Lease, effect: Effect.Effect<A, E, R>) =>
  Effect.map(failure(effect), (error) => {
    assert.instanceOf(error, Journal.LeaseLost)
    assert.strictEqual((error as Journal.LeaseLost).runId, lease.runId)
    assert.strictEqual((error as Journal.LeaseLost).token, lease.token)
  })
