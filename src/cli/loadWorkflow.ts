/**
 * `<module>#<export>`: imports a user's module and takes the workflow it exports under that name
 * (`default` when no name is given).
 *
 * A compiled module (`dist/workflows.js`) is imported as it is. A TypeScript module is run by
 * Node's type stripping (Node 22.18 and later strip types by default), with one addition for
 * NodeNext apps: their relative imports end in `.js` (`import { steps } from "./steps.js"`) while
 * the file on disk is `steps.ts`, so before importing, the CLI registers a module-resolution hook
 * that resolves a relative `.js` (`.mjs`, `.cjs`) import that does not exist to the `.ts`
 * (`.mts`, `.cts`) file beside it. TypeScript that stripping cannot run (enums, namespaces,
 * parameter properties, `paths` aliases) needs the compiled output, or the CLI run under the
 * app's own loader (`node --import tsx node_modules/.bin/plait ...`).
 */
import * as Effect from "effect/Effect"
import { register } from "node:module"
import * as path from "node:path"
import { pathToFileURL } from "node:url"
import { Workflow } from "../index.ts"
import { userError } from "./connection.ts"

export type AnyWorkflow = Workflow.Workflow<any, any, any, any>

const isWorkflow = (value: unknown): value is AnyWorkflow =>
  typeof value === "object" && value !== null && Workflow.TypeId in value

/**
 * The resolution hook, as a module of its own (Node runs hooks off the main thread): a relative
 * `.js` import that is not there is tried as `.ts`; every other import resolves as usual.
 */
const tsResolveHook = `
export async function resolve(specifier, context, nextResolve) {
  try {
    return await nextResolve(specifier, context)
  } catch (error) {
    const typed = /^\\.{1,2}\\//.test(specifier) && /\\.[mc]?js$/.test(specifier) &&
      context.parentURL?.startsWith("file:") && !context.parentURL.includes("/node_modules/")
    if (!typed || error?.code !== "ERR_MODULE_NOT_FOUND") throw error
    try {
      return await nextResolve(specifier.replace(/js$/, "ts"), context)
    } catch {
      throw error
    }
  }
}
`

let hookRegistered = false

/** Registers the `.js` to `.ts` hook once, before the first TypeScript module is imported. */
const registerTsResolution = () => {
  if (hookRegistered) return
  hookRegistered = true
  register(`data:text/javascript,${encodeURIComponent(tsResolveHook)}`)
}

const importFailure = (file: string, cause: unknown): string => {
  const code = (cause as { code?: unknown }).code
  const message = cause instanceof Error ? cause.message : String(cause)
  if (code === "ERR_UNSUPPORTED_TYPESCRIPT_SYNTAX" || code === "ERR_INVALID_TYPESCRIPT_SYNTAX") {
    return `cannot import ${file}: ${message}. Node runs TypeScript by stripping types, which cannot run this: point plait at the compiled module (e.g. dist/....js), or run the CLI under your TypeScript loader (node --import tsx node_modules/.bin/plait ...)`
  }
  if (code === "ERR_UNKNOWN_FILE_EXTENSION" && /\.[mc]?ts$/.test(file)) {
    return `cannot import ${file}: this Node does not run TypeScript (Node 22.18 and later do); point plait at the compiled module instead`
  }
  return `cannot import ${file}: ${message}`
}

export const loadWorkflow = (reference: string) =>
  Effect.gen(function*() {
    const hash = reference.lastIndexOf("#")
    const file = hash < 0 ? reference : reference.slice(0, hash)
    const name = hash < 0 ? "default" : reference.slice(hash + 1)
    if (file === "" || name === "") return yield* userError(`expected <module>#<export>, got "${reference}"`)
    const url = pathToFileURL(path.resolve(file)).href
    if (/\.[mc]?ts$/.test(file)) registerTsResolution()
    const module = yield* Effect.tryPromise({
      try: () => import(url) as Promise<Record<string, unknown>>,
      catch: (cause) => importFailure(file, cause)
    }).pipe(Effect.catch((message) => userError(message)))
    const value = module[name]
    if (value === undefined) {
      const exported = Object.keys(module).filter((key) => isWorkflow(module[key]))
      return yield* userError(
        `${file} has no export "${name}"${exported.length > 0 ? `; its workflows: ${exported.join(", ")}` : ""}`
      )
    }
    if (!isWorkflow(value)) return yield* userError(`${file}#${name} is not a plait workflow`)
    return value
  })
