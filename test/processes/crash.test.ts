/**
 * Real crashes: `CrashWorkflow` runs in a child process on SQLite and on Postgres, is killed
 * with SIGKILL at points chosen from its own progress (mid-sequence, mid-parallel, mid-forEach,
 * between a step's side effect and its journal write), and is restarted with the same run id
 * until it completes. The test reads the child's stdout and kills it right after the chosen
 * line; at a frozen point the child holds still after printing it, so the kill lands exactly
 * there however late the test reacts.
 *
 * Each step appends `<start no> <path>` to a side-effect log the child cannot roll back. After
 * each kill, before the restart, the test reads the journal itself to learn which steps were
 * journaled as completed. Then it checks that:
 *
 * - the final context equals that of an uncrashed run of the same workflow and input;
 * - no step journaled before a kill ran (or even started) again after it; a step re-runs only
 *   when its completion had not committed, and then it must re-run;
 * - every step the child reported `Completed` was journaled by then, and the journal only grows;
 * - each step ran at least once, at most once per start of the child, so at most 1 + kills times.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, type Scope } from "effect"
import { randomBytes } from "node:crypto"
import * as Path from "node:path"
import type { Journal } from "plait"
import { type ChildRun, pathsOf, readLog, runChild } from "../support/processes/crash/harness.ts"
import { describeKillPoint, type KillPoint } from "../support/processes/crash/kill-point.ts"
import { pgStore, sqliteStore, type Store, tempDir } from "../support/processes/crash/stores.ts"
import { stepPaths } from "../support/processes/crash/workflow.ts"
import { pgUrl } from "../support/postgres.ts"

const completedSteps = (loaded: Journal.LoadedRun): Set<string> =>
  new Set(loaded.entries.filter((entry) => entry.kind === "step").map((entry) => entry.path))

const sorted = (paths: Iterable<string>) => Array.from(paths).sort()

/** A kill, and what the journal held once the killed child was gone. */
interface Kill {
  readonly incarnation: number
  readonly point: KillPoint
  readonly run: ChildRun
  readonly journaled: ReadonlySet<string>
}

/**
 * Runs the workflow uncrashed under one run id, then under another with `plan` deciding where
 * each start of the child is killed (`undefined`: let it finish), restarting until it completes.
 * Checks everything the module doc promises; returns the steps that legitimately ran twice.
 */
const crashAndResume = (store: Store, dir: string, plan: (incarnation: number) => KillPoint | undefined) =>
  Effect.gen(function*() {
    const tag = randomBytes(4).toString("hex")

    // The uncrashed run: the context to match, and a check of the log itself.
    const referenceId = `crash-reference-${tag}`
    const referenceLog = Path.join(dir, `${referenceId}.log`)
    const referenceJournal = store.journalFor(`${tag}-reference`)
    const reference = yield* runChild(
      { journal: referenceJournal, runId: referenceId, log: referenceLog, incarnation: 1 },
      undefined
    )
    const referenceExecutions = readLog(referenceLog)
    assert.deepStrictEqual([...referenceExecutions.keys()], [1])
    assert.deepStrictEqual(
      sorted(referenceExecutions.get(1)!),
      sorted(stepPaths),
      "an uncrashed run runs each step once"
    )
    assert.deepStrictEqual(
      sorted(completedSteps(yield* store.load(referenceId))),
      sorted(stepPaths),
      "an uncrashed run journals every step"
    )

    // The crashed run.
    const runId = `crash-${tag}`
    const log = Path.join(dir, `${runId}.log`)
    const kills: Array<Kill> = []
    const at = (kill: Kill) =>
      `child ${kill.incarnation}, killed ${describeKillPoint(kill.point)} ("${kill.run.killedAfter}")`

    // Nothing journaled before a kill runs, or even starts, again after it: checked as soon as
    // each child ends, so a broken replay fails at the first restart.
    const checkNoRerun = (incarnation: number, run: ChildRun) => {
      for (const path of readLog(log).get(incarnation) ?? []) {
        for (const kill of kills) {
          assert.isFalse(
            kill.journaled.has(path),
            `${path} was journaled as completed when ${at(kill)}, yet child ${incarnation} ran it again`
          )
        }
      }
      const previous = kills.at(-1)
      if (previous === undefined) return
      for (const path of pathsOf(run, "Started")) {
        assert.isFalse(
          previous.journaled.has(path),
          `${path} was journaled when ${at(previous)}, yet the next child started it`
        )
      }
      for (const path of pathsOf(run, "Replayed")) {
        assert.isTrue(
          previous.journaled.has(path),
          `the next child replayed ${path}, not journaled when ${at(previous)}`
        )
      }
    }

    let final: ChildRun | undefined
    for (let incarnation = 1; final === undefined; incarnation++) {
      // Each killed start journals at least one new step, so this bounds a correct run.
      assert.isAtMost(incarnation, stepPaths.length, "the run should complete")
      const point = plan(incarnation)
      const journal = store.journalFor(`${tag}-${incarnation}`)
      const run = yield* runChild({ journal, runId, log, incarnation }, point)
      checkNoRerun(incarnation, run)
      if (run.killedAfter === undefined) {
        final = run
        break
      }
      yield* store.settle(journal)
      kills.push({ incarnation, point: point!, run, journaled: completedSteps(yield* store.load(runId)) })
    }
    const finalLoaded = yield* store.load(runId)
    const finalIncarnation = kills.length + 1
    const executions = readLog(log)
    const executedIn = (incarnation: number) => executions.get(incarnation) ?? []

    // 1. Same result as the uncrashed run, and a completed run in the journal.
    assert.deepStrictEqual(
      final.context,
      reference.context,
      "the resumed run's context differs from an uncrashed run's"
    )
    assert.strictEqual(finalLoaded.run.status, "completed")
    assert.deepStrictEqual(sorted(completedSteps(finalLoaded)), sorted(stepPaths))

    // 2. The journal only grows, and a step reported completed was journaled by then.
    for (const [i, kill] of kills.entries()) {
      const after = kills[i + 1]?.journaled ?? completedSteps(finalLoaded)
      for (const path of kill.journaled) {
        assert.isTrue(after.has(path), `${path} vanished from the journal after ${at(kill)}`)
      }
      for (const path of pathsOf(kill.run, "Completed")) {
        assert.isTrue(kill.journaled.has(path), `${path} was reported completed but not journaled when ${at(kill)}`)
      }
    }

    // 3. A step whose completion had not committed runs again (its output is needed), and no
    //    step runs twice within one start.
    for (const kill of kills) {
      for (const path of executedIn(kill.incarnation)) {
        if (kill.journaled.has(path)) continue
        let reran = false
        for (let later = kill.incarnation + 1; later <= finalIncarnation; later++) {
          reran ||= executedIn(later).includes(path)
        }
        assert.isTrue(reran, `${path} ran in ${at(kill)} without being journaled, and never ran again`)
      }
    }
    for (const [incarnation, paths] of executions) {
      assert.strictEqual(
        new Set(paths).size,
        paths.length,
        `child ${incarnation} ran a step twice: ${paths.join(", ")}`
      )
    }

    // 4. Every step ran, at most once per start of the child.
    const counts = new Map<string, number>()
    for (const paths of executions.values()) for (const path of paths) counts.set(path, (counts.get(path) ?? 0) + 1)
    for (const path of stepPaths) {
      const count = counts.get(path) ?? 0
      assert.isAtLeast(count, 1, `${path} never ran`)
      assert.isAtMost(count, 1 + kills.length, `${path} ran ${count} times with ${kills.length} kills`)
    }
    assert.deepStrictEqual(sorted(counts.keys()), sorted(stepPaths))

    // 5. A child frozen right after a step's side effect had not journaled that step, which
    //    therefore ran again: the one case where a step legitimately runs twice.
    for (const kill of kills) {
      if (kill.point.freeze !== true || kill.point.event !== "SideEffect") continue
      const path = kill.run.killedAfter!.slice("SideEffect ".length)
      assert.include(executedIn(kill.incarnation), path)
      assert.isFalse(kill.journaled.has(path), `${path} was journaled though ${at(kill)}`)
      assert.include(executedIn(kill.incarnation + 1), path, `${path} did not run again after ${at(kill)}`)
    }

    return {
      kills: kills.length,
      reran: sorted([...counts].filter(([, count]) => count > 1).map(([path]) => path))
    }
  })

/**
 * Kills at chosen points, one per start. Frozen points are exact: between two sequential steps,
 * half-way through the parallel block, half-way through the forEach, and twice right after a
 * step's side effect (a forEach item, then the last step), before its journal write. One point
 * is left to the test's reaction time: right after a forEach item's side effect, where the kill
 * may land before or after that item's write commits (the child holds still once the item is
 * reported completed, so a late kill still lands in that window). The seventh start finishes.
 */
const chosenPoints: ReadonlyArray<KillPoint> = [
  { event: "Completed", prefix: "", nth: 2, freeze: true },
  { event: "Completed", prefix: "notify/", nth: 2, freeze: true },
  { event: "Completed", prefix: "packed[", nth: 12, freeze: true },
  { event: "SideEffect", prefix: "packed[", nth: 3, untilJournaled: true },
  { event: "SideEffect", prefix: "packed[", nth: 2, freeze: true },
  { event: "SideEffect", prefix: "receipt", nth: 1, freeze: true }
]

/** A kill after every fifth completion, wherever that falls, until a start has fewer left. */
const everyFifthCompletion: KillPoint = { event: "Completed", prefix: "", nth: 5, optional: true }

const suite = (name: string, makeStore: (dir: string) => Effect.Effect<Store, unknown, Scope.Scope>, skip = false) =>
  describe.skipIf(skip)(`${name}: a child process killed with SIGKILL and restarted`, () => {
    it.live(
      "at chosen points resumes to an uncrashed run's context without re-running journaled steps",
      () =>
        Effect.gen(function*() {
          const dir = yield* tempDir
          const store = yield* makeStore(dir)
          const result = yield* crashAndResume(store, dir, (incarnation) => chosenPoints[incarnation - 1])
          assert.strictEqual(result.kills, chosenPoints.length)
          // The frozen side effects at least: the log does see a step that legitimately ran twice.
          assert.include(result.reran, "receipt")
        }),
      180_000
    )

    it.live(
      "after every fifth completion resumes to an uncrashed run's context without re-running journaled steps",
      () =>
        Effect.gen(function*() {
          const dir = yield* tempDir
          const store = yield* makeStore(dir)
          const result = yield* crashAndResume(store, dir, () => everyFifthCompletion)
          // Unfrozen kills land wherever the test's reaction puts them: on a loaded machine a child
          // gets further than five completions before it dies, so fewer kills fit in one run.
          assert.isAtLeast(result.kills, 3)
        }),
      180_000
    )
  })

suite("SQLite", (dir) => Effect.succeed(sqliteStore(dir)))

// Without PLAIT_PG_URL, `support/postgres.ts` warns and these are skipped; in CI it fails instead.
suite("Postgres", () => pgStore(pgUrl!), pgUrl === undefined)
