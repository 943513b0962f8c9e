/**
 * The Restate side of the `restate` section: one Restate service, `plait_bench`, whose handlers
 * are the section's workloads written with Restate's own API, each step a `ctx.run` of a no-op
 * returning its index (so the numbers are Restate's machinery, as plait's are plait's), and the
 * endpoint that serves it (HTTP/2 on loopback, the SDK's bidirectional mode, its default).
 */
import * as restate from "@restatedev/restate-sdk"
import * as Http2 from "node:http2"
import type { AddressInfo } from "node:net"

export const SERVICE = "plait_bench"

/** The step every handler runs: nothing but a journaled result. */
const noop = (i: number) => Promise.resolve(i)

const sum = (values: ReadonlyArray<number>) => values.reduce((total, value) => total + value, 0)

/**
 * `n` steps, `concurrency` at a time: a sliding window, as `Workflow.forEach` runs, through
 * Restate's combinators (`RestatePromise.race`; plain `await`s of several `ctx.run`s from
 * concurrent async functions stalled here). Step `i` is the invocation's `i`-th `ctx.run`,
 * whatever order they complete in: a replay meets the same commands in the same order.
 */
const fanOut = async (ctx: restate.Context, n: number, concurrency: number): Promise<number> => {
  const outputs = new Array<number>(n)
  const inFlight = new Map<number, restate.RestatePromise<number>>()
  let next = 0
  const start = () => {
    const i = next++
    inFlight.set(
      i,
      ctx.run(`item${i}`, () => noop(i)).map((value, failure) => {
        if (failure !== undefined) throw failure
        outputs[i] = value!
        return i
      })
    )
  }
  while (next < n && inFlight.size < concurrency) start()
  while (inFlight.size > 0) {
    inFlight.delete(await restate.RestatePromise.race([...inFlight.values()]))
    if (next < n) start()
  }
  return sum(outputs)
}

/** Invocations whose first attempt has already stopped on purpose (see `replayable`). */
const stopped = new Set<string>()
const STOP = "the first attempt stops after its steps, so that the resume replays them"

export interface FanOut {
  readonly n: number
  readonly concurrency: number
}

export const service = restate.service({
  name: SERVICE,
  handlers: {
    sequential: async (ctx: restate.Context, n: number): Promise<number> => {
      let total = 0
      for (let i = 0; i < n; i++) total += await ctx.run(`s${i}`, () => noop(i))
      return total
    },
    forEach: (ctx: restate.Context, input: FanOut): Promise<number> => fanOut(ctx, input.n, input.concurrency),
    parallel: async (ctx: restate.Context, n: number): Promise<number> =>
      sum(await restate.RestatePromise.all(Array.from({ length: n }, (_, i) => ctx.run(`p${i}`, () => noop(i))))),
    /**
     * The fan-out, then a stop that only the invocation's first attempt makes: it throws (a
     * retryable error) with every step journaled, and the retry policy (one attempt, then pause)
     * parks the invocation `paused`, as a process would be that died after the steps. Resuming
     * it (the admin API's `resume`) runs a new attempt, every step answered from the journal:
     * Restate's replay.
     */
    replayable: restate.handlers.handler(
      { retryPolicy: { maxAttempts: 1, onMaxAttempts: "pause" } },
      async (ctx: restate.Context, input: FanOut): Promise<number> => {
        const total = await fanOut(ctx, input.n, input.concurrency)
        const invocation = ctx.request().id
        if (!stopped.has(invocation)) {
          stopped.add(invocation)
          throw new Error(STOP)
        }
        stopped.delete(invocation)
        return total
      }
    )
  }
})

/** Serves `service` on a free loopback port; resolves to its URL and how to close it. */
export const serveEndpoint = async (): Promise<{ readonly url: string; readonly close: () => Promise<void> }> => {
  const server = Http2.createServer(restate.createEndpointHandler({
    services: [service],
    // Errors only, and not the replay workload's planned stop.
    logger: (meta, message, ...rest) => {
      const text = [message, ...rest].map(String).join(" ")
      if (String(meta.level) === "error" && !text.includes(STOP)) process.stderr.write(`${text}\n`)
    }
  }))
  // The server keeps its HTTP/2 sessions open; closing ends them, or `close` would wait for it.
  const sessions = new Set<Http2.ServerHttp2Session>()
  server.on("session", (session) => {
    sessions.add(session)
    session.on("close", () => sessions.delete(session))
  })
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject)
    server.listen(0, "127.0.0.1", resolve)
  })
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        for (const session of sessions) session.destroy()
      })
  }
}
