#!/usr/bin/env node
/**
 * The `plait` executable. Needs `@effect/platform-node` (an optional peer dependency of plait:
 * install it to use the CLI or the standalone dashboard); without it, it says so instead of
 * failing with a stack, so everything is imported here, after that check.
 */
import { isMissingPackage } from "./connection.ts"

const platform = "@effect/platform-node"

try {
  const [{ NodeRuntime }, { NodeServices }, Effect, { run }] = await Promise.all([
    import("@effect/platform-node/NodeRuntime").then((NodeRuntime) => ({ NodeRuntime })),
    import("@effect/platform-node/NodeServices").then((NodeServices) => ({ NodeServices })),
    import("effect/Effect"),
    import("./Cli.ts")
  ])
  run(process.argv.slice(2)).pipe(Effect.provide(NodeServices.layer), NodeRuntime.runMain)
} catch (error) {
  if (!isMissingPackage(error, platform)) throw error
  process.stderr.write(
    `plait: the CLI needs ${platform}, an optional peer dependency of plait that is not installed: npm install ${platform}\n`
  )
  process.exitCode = 1
}
