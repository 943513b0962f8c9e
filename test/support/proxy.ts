/**
 * A local TCP proxy in front of Postgres that a test cuts and restores, to take the server away
 * from a client without stopping the shared server.
 */
import { Effect } from "effect"
import * as Net from "node:net"

export interface Proxy {
  readonly port: number
  /** Drops every open connection and refuses new ones until `restore`. */
  readonly cut: () => void
  readonly restore: () => void
  /** Cuts once this many more bytes have gone from the client to the server. */
  readonly cutAfter: (bytes: number) => void
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
      const cut = () => {
        up = false
        budget = undefined
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
          upstream.write(chunk)
        })
        upstream.on("data", (chunk: Buffer) => client.write(chunk))
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
