/**
 * `test/types/scale.tst.ts` holds a 100-node workflow written out by the type-check benchmark's
 * generator; it must stay what the generator writes, so the type test and the benchmark test
 * the same workflow.
 */
import { assert, describe, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import { plaitTypeTest } from "../../bench/types/generate.ts"

describe("the 100-node type test", () => {
  it("is what bench/types/generate.ts writes (regenerate it with plaitTypeTest(100))", () => {
    const committed = fs.readFileSync(path.join(import.meta.dirname, "..", "types", "scale.tst.ts"), "utf8")
    assert.strictEqual(committed, plaitTypeTest(100))
  })
})
