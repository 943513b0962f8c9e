/**
 * `<module>#<export>`: imports a user's module and takes the workflow it exports under that name
 * (`default` when no name is given). A `.ts` module needs a Node that strips types (22.18 and
 * later do by default).
 */
import * as Effect from "effect/Effect"
import * as path from "node:path"
import { pathToFileURL } from "node:url"
import { Workflow } from "../index.ts"
import { userError } from "./connection.ts"

export type AnyWorkflow = Workflow.Workflow<any, any, any, any>

const isWorkflow = (value: unknown): value is AnyWorkflow =>
  typeof value === "object" && value !== null && Workflow.TypeId in value

export const loadWorkflow = (reference: string) =>
  Effect.gen(function*() {
    const hash = reference.lastIndexOf("#")
    const file = hash < 0 ? reference : reference.slice(0, hash)
    const name = hash < 0 ? "default" : reference.slice(hash + 1)
    if (file === "" || name === "") return yield* userError(`expected <module>#<export>, got "${reference}"`)
    const url = pathToFileURL(path.resolve(file)).href
    const module = yield* Effect.tryPromise({
      try: () => import(url) as Promise<Record<string, unknown>>,
      catch: (cause) => cause instanceof Error ? cause.message : String(cause)
    }).pipe(Effect.catch((message) => userError(`cannot import ${file}: ${message}`)))
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
