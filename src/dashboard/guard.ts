/**
 * What the dashboard checks before anything else, on every request: that the `Host` it was asked
 * for, and the `Origin` of the page asking (when a browser says), are addresses the dashboard
 * serves. A DNS-rebinding page (`evil.example` resolving to 127.0.0.1) reaches the right socket
 * under the wrong name, and is refused here before it can read a run or steer one. A dashboard
 * served without authentication also refuses clients that are not on this machine.
 */
import * as Option from "effect/Option"
import type * as HttpServerRequest from "effect/http/HttpServerRequest"
import * as NetAddress from "effect/net/NetAddress"
import type * as Result from "effect/Result"
import * as os from "node:os"

/** `name:port` as a Host header carries it, lower-cased; an IPv6 name in brackets. */
interface HostName {
  readonly name: string
  readonly port: number | undefined
}

const parseHost = (host: string, defaultPort: number | undefined): HostName | undefined => {
  const match = /^(\[[0-9a-f:.]+\]|[^:[\]]+)(?::(\d{1,5}))?$/i.exec(host.trim())
  if (match === null) return undefined
  return { name: match[1]!.toLowerCase(), port: match[2] === undefined ? defaultPort : Number(match[2]) }
}

const loopbackNames = ["localhost", "127.0.0.1", "[::1]"]

export interface Guard {
  /** The names the dashboard answers to, for messages. */
  readonly served: ReadonlyArray<string>
  /** Why the request is refused (403), or undefined when it may go on. */
  readonly refusal: (request: HttpServerRequest.HttpServerRequest) => string | undefined
}

/**
 * The addresses the dashboard serves: the server's own (its loopback names when it listens on
 * loopback; those, the machine's name and its interfaces' IPs when it listens on every interface;
 * its IP otherwise), and `hosts`, names a proxy or DNS gives it
 * (`plait.example.com`, with a port to allow only that one). Without a known server address,
 * the loopback names on any port.
 */
export const makeGuard = (options: {
  readonly address: NetAddress.SocketAddress | undefined
  readonly hosts: ReadonlyArray<string>
  readonly loopbackClientsOnly: boolean
}): Guard => {
  const allowed: Array<HostName> = []
  for (const host of options.hosts) {
    const parsed = parseHost(host, undefined)
    if (parsed !== undefined) allowed.push(parsed)
  }
  const address = options.address
  if (address === undefined || !NetAddress.isInetAddress(address)) {
    for (const name of loopbackNames) allowed.push({ name, port: undefined })
  } else if (NetAddress.isLoopback(address.address)) {
    for (const name of loopbackNames) allowed.push({ name, port: address.port })
  } else if (NetAddress.isUnspecified(address.address)) {
    // Listening on every interface, it serves each of them, and the machine's name.
    for (const name of [...loopbackNames, ...machineNames()]) allowed.push({ name, port: address.port })
  } else {
    allowed.push({ name: NetAddress.formatUrlHost(address.address).toLowerCase(), port: address.port })
  }
  const allows = (host: HostName) =>
    allowed.some((candidate) => candidate.name === host.name && (candidate.port ?? host.port) === host.port)
  const served = allowed.map((host) => (host.port === undefined ? host.name : `${host.name}:${host.port}`))
  return {
    served,
    refusal: (request) => {
      const hostHeader = request.headers["host"]
      const host = hostHeader === undefined ? undefined : parseHost(hostHeader, 80)
      if (host === undefined || !allows(host)) {
        return `this dashboard does not serve the host ${JSON.stringify(hostHeader ?? "")}; it serves ${
          served.join(", ")
        }`
      }
      const origin = request.headers["origin"]
      if (origin !== undefined) {
        const from = originHost(origin)
        if (from === undefined || !allows(from)) {
          return `requests from pages of ${
            JSON.stringify(origin)
          } are refused: only this dashboard's own pages may call it`
        }
      }
      if (
        options.loopbackClientsOnly && !Option.match(request.remoteAddress, {
          onNone: () => true,
          onSome: isLoopbackClient
        })
      ) {
        return "this dashboard has no authentication, so it answers only clients on this machine"
      }
      return undefined
    }
  }
}

/** This machine's host name and the IP of each of its network interfaces, as Host names them. */
const machineNames = (): ReadonlyArray<string> => [
  os.hostname().toLowerCase(),
  ...Object.values(os.networkInterfaces()).flatMap((addresses) =>
    (addresses ?? []).map((address) => (address.family === "IPv6" ? `[${address.address}]` : address.address))
  )
]

const originHost = (origin: string): HostName | undefined => {
  try {
    const url = new URL(origin)
    if (url.protocol !== "http:" && url.protocol !== "https:") return undefined
    return parseHost(url.host, url.protocol === "https:" ? 443 : 80)
  } catch {
    return undefined
  }
}

const isLoopbackClient = (remote: string): boolean => {
  const parsed: Result.Result<NetAddress.IpAddress, NetAddress.NetAddressError> = NetAddress.ipFromString(remote)
  if (parsed._tag === "Failure") return false
  const ip = parsed.success
  if (NetAddress.isLoopback(ip)) return true
  if (!NetAddress.isIpv6Address(ip)) return false
  const v4 = NetAddress.fromIpv4Mapped(ip)
  return Option.isSome(v4) && NetAddress.isLoopback(v4.value)
}

/** Whether a server at this address is reachable only from this machine. */
export const isLoopbackAddress = (address: NetAddress.SocketAddress): boolean =>
  NetAddress.isUnixPathAddress(address) || NetAddress.isLoopback(address.address)
