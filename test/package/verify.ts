/**
 * The assertions of test/package/run.sh, one mode per check:
 *
 *   node verify.ts tarball <npm pack --json output>
 *   node verify.ts run <sqlite|postgres> <stdout file> <stderr file>
 *   node verify.ts duplicate <stdout file>
 *   node verify.ts testing <stdout file> <stderr file>
 *   node verify.ts declarations <app directory>
 *
 * Exits non-zero with a message saying what was wrong.
 */
import * as fs from "node:fs"
import { createRequire } from "node:module"
import * as path from "node:path"

const [mode, ...args] = process.argv.slice(2)

const problems: Array<string> = []
const expect = (ok: boolean, problem: string) => {
  if (!ok) problems.push(problem)
}

/** The last line of an app run: the JSON it printed. */
const lastJson = (file: string): Record<string, any> => {
  const lines = fs.readFileSync(file, "utf8").trim().split("\n")
  return JSON.parse(lines[lines.length - 1]!)
}

/** What a user needs: the build, the sources its maps point to, and the package's own files. */
const checkTarball = (packJson: string) => {
  const files: Array<string> = JSON.parse(fs.readFileSync(packJson, "utf8"))[0].files.map((f: { path: string }) =>
    f.path
  )
  for (
    const required of [
      "package.json",
      "README.md",
      "LICENSE",
      "dist/index.js",
      "dist/index.d.ts",
      "dist/index.js.map",
      "dist/index.d.ts.map",
      "dist/PgJournal.js",
      "dist/PgJournal.d.ts",
      "dist/internal/executor.js",
      "dist/testing/index.js",
      "dist/testing/index.d.ts",
      "src/index.ts"
    ]
  ) {
    expect(files.includes(required), `the tarball lacks ${required}`)
  }
  const extra = files.filter((file) =>
    !["package.json", "README.md", "LICENSE"].includes(file) &&
    !(file.startsWith("dist/") && /\.(js|d\.ts)(\.map)?$/.test(file)) &&
    !(file.startsWith("src/") && file.endsWith(".ts"))
  )
  expect(extra.length === 0, `the tarball carries files a user does not need: ${extra.join(", ")}`)
}

const checkRun = (label: string, stdout: string, stderr: string) => {
  const warnings = fs.readFileSync(stderr, "utf8")
  expect(warnings === "", `the run printed to stderr (a warning?):\n${warnings}`)
  const result = lastJson(stdout)
  expect(result.label === label, `expected the ${label} run's result, got ${JSON.stringify(result)}`)
  expect(result.firstRun === "Suspended", `the first run should suspend at the signal, got ${result.firstRun}`)
  expect(result.receipt === "R-2 room 12 for 540, 3 nights", `unexpected receipt ${result.receipt}`)
  expect(result.tier === "vip", `unexpected branch case ${result.tier}`)
  // Everything before the signal was journaled by the first run and is replayed by the second.
  expect(result.replayed >= 10, `the resumed run replayed ${result.replayed} steps, expected every finished one`)
  for (
    const tag of [
      "Started",
      "Completed",
      "Sleeping",
      "Woke",
      "AwaitingSignal",
      "RaceWon",
      "BranchChosen",
      "LastWinsOrder"
    ]
  ) {
    expect((result.firstEvents?.[tag] ?? 0) > 0, `observe reported no ${tag} event in the first run`)
  }
  for (const field of ["guest", "seats"]) {
    expect(
      typeof result.invalidInput === "string" && result.invalidInput.includes(field),
      `InvalidInput should name every bad field, ${field} missing: ${result.invalidInput}`
    )
  }
}

/** The testing kit's run of the booking: completed through its signal, crashed after every step. */
const checkTesting = (stdout: string, stderr: string) => {
  const warnings = fs.readFileSync(stderr, "utf8")
  expect(warnings === "", `the kit's run printed to stderr:\n${warnings}`)
  const result = lastJson(stdout)
  expect(result.outcome === "Completed", `the kit's run should complete, got ${JSON.stringify(result)}`)
  expect(result.receipt === "R-2 room 12 for 540, 3 nights", `unexpected receipt ${result.receipt}`)
  expect(result.reservations === 1, `the reservation ran ${result.reservations} times, expected once`)
  expect(result.starts === 2, `the run should start, suspend at the signal and resume: ${result.starts} starts`)
  expect(
    result.completions > 10 && result.crashes === result.completions,
    `one crash per completed step expected: ${result.crashes} crashes, ${result.completions} steps`
  )
}

const checkDuplicate = (stdout: string) => {
  const result = lastJson(stdout)
  expect(result.failure?._tag === "DuplicateEffect", `expected DuplicateEffect, got ${JSON.stringify(result)}`)
  // It says which copy plait runs on: here the one nested under plait.
  expect(
    String(result.failure?.plaitEffect).includes("node_modules/plait/node_modules/effect/"),
    `DuplicateEffect should locate plait's copy of effect, got ${result.failure?.plaitEffect}`
  )
}

/**
 * Every plait module the app's emitted declarations import must resolve for the app. TypeScript
 * names a type by whatever path reaches its file, even one plait's `exports` closes (such as
 * `plait/internal/types`): the app compiles, but its declarations break for their readers. So a
 * public type that only an internal module can name shows here.
 */
const checkDeclarations = (appDir: string) => {
  const resolve = createRequire(path.join(appDir, "package.json")).resolve
  const dist = path.join(appDir, "dist")
  const files = fs.readdirSync(dist, { recursive: true, encoding: "utf8" }).filter((file) => file.endsWith(".d.ts"))
  expect(files.length > 0, `no declarations were emitted in ${dist}`)
  for (const file of files) {
    const text = fs.readFileSync(path.join(dist, file), "utf8")
    for (const [, specifier] of text.matchAll(/(?:from |import\()"(plait(?:\/[^"]*)?)"/g)) {
      try {
        resolve(specifier!)
      } catch (error) {
        problems.push(
          `${file} names a type through ${specifier}, which the app cannot import: ${(error as Error).message}`
        )
      }
    }
  }
}

switch (mode) {
  case "tarball":
    checkTarball(args[0]!)
    break
  case "run":
    checkRun(args[0]!, args[1]!, args[2]!)
    break
  case "duplicate":
    checkDuplicate(args[0]!)
    break
  case "testing":
    checkTesting(args[0]!, args[1]!)
    break
  case "declarations":
    checkDeclarations(args[0]!)
    break
  default:
    problems.push(`unknown mode ${mode}`)
}

if (problems.length > 0) {
  for (const problem of problems) console.error(`verify ${mode}: ${problem}`)
  process.exit(1)
}
