#!/usr/bin/env node
/**
 * The `plait` executable. Needs `@effect/platform-node` (an optional peer dependency of plait:
 * install it to use the CLI or the standalone dashboard).
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as NodeServices from "@effect/platform-node/NodeServices"
import * as Effect from "effect/Effect"
import { run } from "./Cli.ts"

run(process.argv.slice(2)).pipe(Effect.provide(NodeServices.layer), NodeRuntime.runMain)
