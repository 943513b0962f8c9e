/**
 * `Workflow.StepInfo` inside steps: the run id, the step's path, the attempt, and an idempotency
 * key that is the same for every attempt of one step of one run (across retries and resumes) and
 * different for any other step or run.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Schema } from "effect"
import { Workflow } from "plait"
import { advance, completed, memoryLayer, runFor } from "../support/runs.ts"

type Info = Workflow.StepInfo["Service"]

const recorder = () => {
  const seen: Array<Info> = []
  return { seen, record: Workflow.StepInfo.use((info) => Effect.sync(() => void seen.push(info))) }
}

describe("StepInfo", () => {
  it.effect("names the run, the path and the attempt; the key is stable across retries", () =>
    Effect.gen(function*() {
      const { record, seen } = recorder()
      const Pay = Workflow.make("pay", { input: Schema.Number }).pipe(
        Workflow.step("charged", { success: Schema.Number, retry: { times: 2, delay: "1 second" } }, (ctx) =>
          Effect.andThen(
            record,
            Effect.suspend(() =>
              seen.length < 3 ? Effect.fail("timeout") : Effect.succeed(ctx.input)
            )
          )),
        Workflow.forEach("mails", () => ["a", "b"], () =>
          Effect.as(record, "sent"), { success: Schema.String })
      )
      completed(yield* runFor(Workflow.run(Pay, { input: 5, runId: "pay-1" }), "5 seconds"))
      assert.deepStrictEqual(seen.map((info) => [info.runId, info.path, info.attempt]), [
        ["pay-1", "charged", 1],
        ["pay-1", "charged", 2],
        ["pay-1", "charged", 3],
        ["pay-1", "mails[0]", 1],
        ["pay-1", "mails[1]", 1]
      ])
      const keys = seen.map((info) => info.idempotencyKey)
      assert.strictEqual(new Set(keys.slice(0, 3)).size, 1, "one key for every attempt of a step")
      assert.strictEqual(new Set(keys).size, 3, "each item and each step has its own")
      assert.match(keys[0]!, /^plait_[0-9a-f]{40}$/)
    }).pipe(Effect.provide(memoryLayer())))

  it.effect("the key survives a resume and differs between runs", () =>
    Effect.gen(function*() {
      const { record, seen } = recorder()
      const Mail = Workflow.make("mail", { input: Schema.String }).pipe(
        Workflow.step("sent", { success: Schema.String, retry: { times: 3, delay: "1 minute" } }, (ctx) =>
          Effect.andThen(
            record,
            Effect.suspend(() => seen.length < 2 ? Effect.fail("smtp down") : Effect.succeed(ctx.input))
          ))
      )
      // The first attempt fails; the run is stopped during its retry delay and run again.
      const first = yield* Effect.forkChild(Workflow.run(Mail, { input: "hi", runId: "mail-1" }))
      yield* advance("1 second")
      yield* Fiber.interrupt(first)
      completed(yield* runFor(Workflow.run(Mail, { input: "hi", runId: "mail-1" }), "2 minutes"))
      completed(yield* runFor(Workflow.run(Mail, { input: "hi", runId: "mail-2" })))
      assert.deepStrictEqual(seen.map((info) => [info.runId, info.attempt]), [["mail-1", 1], ["mail-1", 2], [
        "mail-2",
        1
      ]])
      assert.strictEqual(seen[0]!.idempotencyKey, seen[1]!.idempotencyKey)
      assert.notStrictEqual(seen[1]!.idempotencyKey, seen[2]!.idempotencyKey)
    }).pipe(Effect.provide(memoryLayer())))
})
