/**
 * A Restate server for the bench: the `restate-server` binary that `@restatedev/restate-server`
 * installs from the npm registry (in its platform package, e.g.
 * `@restatedev/restate-server-linux-x64`), started as a single node on loopback with a fresh
 * data directory, its telemetry off, and every write of its log fsync'd:
 *
 * - the log (Bifrost) is the node's replicated loglet, stored by its own log-server role in
 *   RocksDB; `log-server.rocksdb-disable-wal-fsync = false` makes each write batch wait for
 *   the WAL's fsync (Restate's default, set explicitly so it cannot drift); the same for the
 *   local loglet (`bifrost.local`), in case a node uses it;
 * - a `ctx.run`'s result is acknowledged to the handler once it is appended to that log, so a
 *   step is a fsync'd log write (concurrent steps may share one batch's fsync).
 *
 * The partition store (derived from the log) keeps Restate's defaults.
 */
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import { createRequire } from "node:module"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"

export interface RestateServer {
  readonly version: string
  readonly ingress: string
  readonly admin: string
  /** The server process's CPU time (user + system) so far, from `/proc`, in milliseconds. */
  readonly cpuMs: () => number
  /** Registers a service endpoint (a deployment), so the server discovers its services. */
  readonly register: (endpoint: string) => Promise<void>
  /** Stops the server and deletes its data directory. */
  readonly stop: () => Promise<void>
}

const binaryPackage = () => `@restatedev/restate-server-${process.platform}-${process.arch}`

/** The installed binary and its version, or why there is none. */
export const restateBinary = (): { readonly path: string; readonly version: string } | { readonly missing: string } => {
  const require = createRequire(import.meta.url)
  try {
    const packageJson = require.resolve(`${binaryPackage()}/package.json`)
    const path = Path.join(Path.dirname(packageJson), "bin", "restate-server")
    const version = (JSON.parse(Fs.readFileSync(packageJson, "utf8")) as { version: string }).version
    if (!Fs.existsSync(path)) return { missing: `${path} is absent` }
    return { path, version }
  } catch {
    return { missing: `${binaryPackage()} is not installed (no restate-server binary for this platform)` }
  }
}

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = Net.createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as Net.AddressInfo
      server.close(() => resolve(port))
    })
  })

const configuration = (ports: { readonly node: number; readonly admin: number; readonly ingress: number }) => `
disable-telemetry = true
auto-provision = true
cluster-name = "plait-bench"
bind-address = "127.0.0.1:${ports.node}"
advertised-address = "http://127.0.0.1:${ports.node}/"
# The bench machine is shared: less than the 2 GiB default for RocksDB's memory.
rocksdb-total-memory-size = "512 MiB"

[admin]
bind-address = "127.0.0.1:${ports.admin}"

[ingress]
bind-address = "127.0.0.1:${ports.ingress}"

[log-server]
rocksdb-disable-wal-fsync = false

[bifrost.local]
rocksdb-disable-wal-fsync = false
`

/** Clock ticks per second of `/proc/<pid>/stat`'s times. */
const ticksPerSecond = (() => {
  try {
    return Number(ChildProcess.execFileSync("getconf", ["CLK_TCK"]).toString().trim()) || 100
  } catch {
    return 100
  }
})()

const cpuMsOf = (pid: number) => {
  // Fields after the command (which is in parentheses and may hold spaces): utime is the 14th
  // field of the line, stime the 15th.
  const stat = Fs.readFileSync(`/proc/${pid}/stat`, "utf8")
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / ticksPerSecond
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Polls `check` every 100 ms until it holds, or fails after `ms` saying `what`. */
const waitFor = async (what: string, ms: number, check: () => Promise<boolean>, failed: () => string | undefined) => {
  const deadline = performance.now() + ms
  while (performance.now() < deadline) {
    const failure = failed()
    if (failure !== undefined) throw new Error(failure)
    if (await check().catch(() => false)) return
    await sleep(100)
  }
  throw new Error(`Restate server: ${what} not within ${ms / 1000} s`)
}

export const startRestateServer = async (): Promise<RestateServer> => {
  const binary = restateBinary()
  if ("missing" in binary) throw new Error(binary.missing)
  const directory = Fs.mkdtempSync(Path.join(Os.tmpdir(), "plait-bench-restate-"))
  const ports = { node: await freePort(), admin: await freePort(), ingress: await freePort() }
  const configFile = Path.join(directory, "restate.toml")
  Fs.writeFileSync(configFile, configuration(ports))
  // Only the environment a server needs: no RESTATE_* setting of the caller's overrides the file.
  const env = { PATH: process.env.PATH ?? "", HOME: directory }
  const child = ChildProcess.spawn(
    binary.path,
    [
      "--config-file",
      configFile,
      "--base-dir",
      Path.join(directory, "data"),
      "--node-name",
      "plait-bench",
      "--listen-mode",
      "tcp",
      "--no-logo"
    ],
    { env, stdio: ["ignore", "ignore", "pipe"] }
  )
  // A bench that fails or exits before its disposers ran leaves no server behind.
  const killOnExit = () => {
    child.kill("SIGKILL")
    Fs.rmSync(directory, { recursive: true, force: true })
  }
  process.on("exit", killOnExit)
  let stderr = ""
  child.stderr.on("data", (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)))
  const exited = new Promise<void>((resolve) => child.on("close", () => resolve()))
  const failed = () =>
    child.exitCode !== null || child.signalCode !== null
      ? `Restate server exited (code ${child.exitCode}, ${child.signalCode}):\n${stderr}`
      : undefined
  const stop = async () => {
    process.off("exit", killOnExit)
    if (failed() === undefined) {
      child.kill("SIGTERM")
      const timer = setTimeout(() => child.kill("SIGKILL"), 20_000)
      await exited
      clearTimeout(timer)
    }
    Fs.rmSync(directory, { recursive: true, force: true })
  }

  const admin = `http://127.0.0.1:${ports.admin}`
  const ingress = `http://127.0.0.1:${ports.ingress}`
  try {
    await waitFor("admin API up", 60_000, async () => (await fetch(`${admin}/health`)).ok, failed)
    await waitFor("ingress up", 60_000, async () => (await fetch(`${ingress}/restate/health`)).ok, failed)
  } catch (error) {
    await stop()
    throw error
  }
  return {
    version: binary.version,
    ingress,
    admin,
    cpuMs: () => cpuMsOf(child.pid!),
    register: async (endpoint) => {
      const response = await fetch(`${admin}/deployments`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ uri: endpoint, force: true })
      })
      if (!response.ok) throw new Error(`Restate: registering ${endpoint}: ${response.status} ${await response.text()}`)
    },
    stop
  }
}
