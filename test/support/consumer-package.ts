/**
 * plait as a user's project sees it: its declarations emitted (as `npm run build` would) into
 * `node_modules/plait` of a throwaway directory, next to links to the repository's `effect`,
 * `@effect/*` and `@types`. Consumer files written into that directory compile against the
 * published types, not against `src`, so what declaration emit can and cannot name is what a
 * user would meet. Used by the declaration test and the type-check benchmark.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import ts from "typescript"

const root = path.resolve(import.meta.dirname, "..", "..")

export interface ConsumerPackage {
  readonly directory: string
  /** Compiler options a strict user project would use, with declaration emit into `out/`. */
  readonly options: ts.CompilerOptions
  readonly dispose: () => void
}

const describe = (diagnostics: ReadonlyArray<ts.Diagnostic>) =>
  diagnostics.map((diagnostic) => {
    const message = ts.flattenDiagnosticMessageText(diagnostic.messageText, "\n  ")
    if (diagnostic.file === undefined || diagnostic.start === undefined) return `TS${diagnostic.code} ${message}`
    const { line, character } = diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start)
    return `${path.relative(root, diagnostic.file.fileName)}:${line + 1}:${
      character + 1
    } TS${diagnostic.code} ${message}`
  })

/** Emits plait's declarations into `directory/node_modules/plait/dist`. */
const emitPlait = (packageDirectory: string) => {
  const configPath = path.join(root, "tsconfig.build.json")
  const config = ts.readConfigFile(configPath, ts.sys.readFile)
  const parsed = ts.parseJsonConfigFileContent(config.config, ts.sys, root, {
    outDir: path.join(packageDirectory, "dist"),
    declaration: true,
    emitDeclarationOnly: true,
    declarationMap: false,
    sourceMap: false,
    noEmit: false
  }, configPath)
  const program = ts.createProgram({ rootNames: parsed.fileNames, options: parsed.options })
  const emitted = program.emit()
  const problems = describe([...ts.getPreEmitDiagnostics(program), ...emitted.diagnostics])
  if (problems.length > 0) throw new Error(`plait's declarations do not emit:\n${problems.join("\n")}`)
  fs.writeFileSync(
    path.join(packageDirectory, "package.json"),
    JSON.stringify({
      name: "plait",
      type: "module",
      exports: { ".": { types: "./dist/index.d.ts", default: "./dist/index.js" } }
    })
  )
}

export const makeConsumerPackage = (): ConsumerPackage => {
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), "plait-consumer-"))
  fs.writeFileSync(path.join(directory, "package.json"), JSON.stringify({ name: "consumer", type: "module" }))
  fs.mkdirSync(path.join(directory, "src"))
  const modules = path.join(directory, "node_modules")
  fs.mkdirSync(path.join(modules, "plait"), { recursive: true })
  for (const linked of ["effect", "@effect", "@types"]) {
    fs.symlinkSync(path.join(root, "node_modules", linked), path.join(modules, linked), "dir")
  }
  emitPlait(path.join(modules, "plait"))
  return {
    directory,
    options: {
      target: ts.ScriptTarget.ES2023,
      lib: ["lib.es2023.d.ts"],
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      types: ["node"],
      strict: true,
      exactOptionalPropertyTypes: true,
      skipLibCheck: true,
      declaration: true,
      emitDeclarationOnly: true,
      outDir: path.join(directory, "out"),
      rootDir: path.join(directory, "src")
    },
    dispose: () => fs.rmSync(directory, { recursive: true, force: true })
  }
}

/**
 * Compiles `files` (name to source, written to the package's `src/`) with its options and
 * returns the problems and the declaration files emitted, by name.
 */
export const compileConsumer = (
  consumer: ConsumerPackage,
  files: Readonly<Record<string, string>>
): { readonly problems: ReadonlyArray<string>; readonly declarations: ReadonlyMap<string, string> } => {
  const rootNames = Object.entries(files).map(([name, source]) => {
    const fileName = path.join(consumer.directory, "src", name)
    fs.writeFileSync(fileName, source)
    return fileName
  })
  const program = ts.createProgram({ rootNames, options: consumer.options })
  const declarations = new Map<string, string>()
  const emitted = program.emit(undefined, (fileName, text) => {
    declarations.set(path.relative(path.join(consumer.directory, "out"), fileName), text)
  })
  // Declaration errors come both before emit and from it; each once.
  const problems = [...new Set(describe([...ts.getPreEmitDiagnostics(program), ...emitted.diagnostics]))]
  return { problems, declarations }
}
