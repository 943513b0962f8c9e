/**
 * CPU burners: processes that spin for as long as the scope that started them is open, so a
 * test's workers run on a saturated machine (heartbeats late, timers late, stalls).
 */
import { Effect } from "effect"
import * as ChildProcess from "node:child_process"

/** Starts `count` processes that each keep one core busy; closing the scope kills them. */
export const cpuBurners = (count: number) =>
  Effect.acquireRelease(
    Effect.sync(() =>
      Array.from({ length: count }, () =>
        ChildProcess.spawn(process.execPath, ["-e", "for (;;) {}"], { stdio: "ignore" }))
    ),
    (burners) =>
      Effect.sync(() => burners.forEach((burner) => burner.kill("SIGKILL")))
  )
