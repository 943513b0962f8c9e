/**
 * A user's package built with `declaration: true` must be able to export its workflows and run
 * results: every type their declarations name has to be reachable from plait's public entry,
 * and the merged and composed contexts have to be written out as plain object types.
 */
import { assert, describe, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import { compileConsumer, type ConsumerPackage, makeConsumerPackage } from "../support/consumer-package.ts"

const fixture = (name: string) =>
  fs.readFileSync(path.join(import.meta.dirname, "..", "support", "fixtures", name), "utf8")

describe("declaration emit of a consumer", () => {
  let consumer: ConsumerPackage | undefined
  let result: ReturnType<typeof compileConsumer> | undefined
  const compiled = () => {
    consumer ??= makeConsumerPackage()
    result ??= compileConsumer(consumer, {
      "consumer.ts": fixture("consumer.ts"),
      // Imports nothing but `Workflow`: the journal and error types must be named through it.
      "minimal.ts": fixture("minimal.ts")
    })
    return result
  }

  it("exports workflows of every combinator and run results without an error", () => {
    const { problems } = compiled()
    assert.deepStrictEqual(problems, [], `\n${problems.join("\n")}`)
  }, 120_000)

  it("names only plait's public entry, and writes merged contexts out flat", () => {
    const { declarations } = compiled()
    consumer?.dispose()
    const text = `${declarations.get("consumer.d.ts")}\n${declarations.get("minimal.d.ts")}`
    // Everything is reached through `import("plait")`; nothing from `dist/internal`.
    assert.notInclude(text, "internal/")
    assert.notInclude(text, "dist/")
    // Deep merges, sequences and the ctx view are written as object types, not as the aliases
    // that compute them.
    for (const alias of ["DeepMerge<", "LastWins<", "Simplify<", "Omit<", "Added<", "ParallelDelta<", "DeltaOf<"]) {
      assert.notInclude(text, alias, `the declaration mentions ${alias}`)
    }
    // The shared deep-merge key is one record with both fields.
    assert.match(text, /readonly settings: \{\s*readonly theme: string;\s*readonly language: string;\s*\}/)
    // The run result's context is one flat object (Completed.context).
    assert.match(text, /stepsRun: Effect\.Effect<Workflow\.Outcome<\{\s*readonly input:/)
    // A module importing only `Workflow` names the error and journal types through it.
    assert.include(text, "Workflow.ParallelFailureOf<")
    assert.include(text, "Workflow.RunError")
  }, 120_000)
})
