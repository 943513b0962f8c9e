/**
 * A local TCP proxy in front of Postgres that a test cuts and restores, to take the server away
 * from a client without stopping the shared server.
 */
import { Context, Effect, Layer, Redacted } from "effect"
import * as Net from "node:net"
import { Journal } from "plait"
import * as PgJournal from "plait/PgJournal"

export interface Proxy {
  readonly port: number
  /** Drops every open connection and refuses new ones until `restore`. */
  readonly cut: () => void
  readonly restore: () => void
  /** Cuts once this many more bytes have gone from the client to the server. */
  readonly cutAfter: (bytes: number) => void
  /**
   * Cuts, instead of forwarding it, the server's first reply to the next statement a client
   * sends: the statement runs (and commits) while its client sees the connection drop.
   */
  readonly cutAtNextReply: () => void
  readonly cuts: () => number
}

/**
 * Listens on a free local port and forwards every connection to `target`. Cut and closed when
 * the scope ends.
 */
export const makeProxy = (target: { readonly host: string; readonly port: number }) =>
  Effect.acquireRelease(
    Effect.callback<{ readonly proxy: Proxy; readonly close: () => void }>((resume) => {
      const sockets = new Set<Net.Socket>()
      let up = true
      let cutCount = 0
      let budget: number | undefined
      let replyCut: "armed" | Net.Socket | undefined
      const cut = () => {
        up = false
        budget = undefined
        replyCut = undefined
        cutCount++
        for (const socket of sockets) socket.destroy()
        sockets.clear()
      }
      const server = Net.createServer((client) => {
        if (!up) {
          client.destroy()
          return
        }
        const upstream = Net.connect(target.port, target.host)
        sockets.add(client)
        sockets.add(upstream)
        const drop = () => {
          client.destroy()
          upstream.destroy()
          sockets.delete(client)
          sockets.delete(upstream)
        }
        client.on("data", (chunk: Buffer) => {
          if (budget !== undefined) {
            budget -= chunk.length
            if (budget <= 0) return cut()
          }
          if (replyCut === "armed") replyCut = upstream
          upstream.write(chunk)
        })
        upstream.on("data", (chunk: Buffer) => (replyCut === upstream ? cut() : client.write(chunk)))
        for (const socket of [client, upstream]) {
          socket.on("error", drop)
          socket.on("close", drop)
        }
      })
      server.listen(0, "127.0.0.1", () => {
        const port = (server.address() as Net.AddressInfo).port
        resume(Effect.succeed({
          proxy: {
            port,
            cut,
            restore: () => {
              up = true
            },
            cutAfter: (bytes) => {
              budget = bytes
            },
            cutAtNextReply: () => {
              replyCut = "armed"
            },
            cuts: () => cutCount
          },
          close: () => {
            cut()
            server.close()
          }
        }))
      })
    }),
    ({ close }) => Effect.sync(close)
  ).pipe(Effect.map(({ proxy }) => proxy))

/**
 * A Postgres journal on `pgUrl` whose every connection goes through `proxy`, so a test can cut
 * the journal off from the server without touching the server.
 */
export const pgJournalThrough = Effect.fnUntraced(function*(pgUrl: string, proxy: Proxy, tablePrefix: string) {
  const proxied = new URL(pgUrl)
  proxied.hostname = "127.0.0.1"
  proxied.port = String(proxy.port)
  const context = yield* Layer.build(
    PgJournal.layer({ url: Redacted.make(proxied.toString()), tablePrefix, connectTimeout: "2 seconds" })
  )
  return { journal: Context.get(context, Journal.Journal), context }
})
