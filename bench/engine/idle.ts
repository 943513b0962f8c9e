/**
 * What an idle worker costs the database: the statements a worker process with nothing to do
 * sends per second, counted by its journal (`SqlJournal.makeRoundTrips()`) over a window that
 * starts once its idle back-off has reached its longest poll (`warmupMs` after `go`).
 */
import { withWorkerProcess } from "./fixture.ts"
import type { Counts } from "./protocol.ts"

export interface IdleConfig {
  readonly name: string
  readonly listen: boolean
}

export const idleConfigs: ReadonlyArray<IdleConfig> = [
  { name: "listening (NOTIFY), default intervals", listen: true },
  { name: "polling only, default intervals", listen: false }
]

export interface IdleResult {
  readonly config: IdleConfig
  readonly counts: Counts
  readonly perSecond: number
}

export const measureIdle = (options: {
  readonly url: string
  readonly config: IdleConfig
  readonly warmupMs: number
  readonly windowMs: number
}): Promise<IdleResult> =>
  withWorkerProcess(options.url, "idle", { listen: options.config.listen, concurrency: 16 }, async (_, worker) => {
    await new Promise((resolve) => setTimeout(resolve, options.warmupMs))
    await worker.reset()
    await new Promise((resolve) => setTimeout(resolve, options.windowMs))
    const counts = await worker.counts()
    return { config: options.config, counts, perSecond: (counts.total * 1000) / counts.elapsedMs }
  })
