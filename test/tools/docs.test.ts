/**
 * Keeps the documentation honest: every TypeScript code block readers can copy must type-check
 * against the current source.
 *
 * Checked:
 * - every ```ts (or ```typescript) block in `README.md` and `docs/*.md`;
 * - every ```ts block inside an `@example` tag of a doc comment in `src/**\/*.ts`.
 *
 * Convention for a block that is deliberately illustrative (it uses services it never defines,
 * say): write its fence as ```ts no-check. Markdown renderers (GitHub, typedoc) take the first
 * word of the info string as the language, so the block is still highlighted as TypeScript.
 * Prefer a block that compiles; to show a compile error, keep the block checked and put
 * `// @ts-expect-error` on the line before the error.
 *
 * Blocks are checked with `tsconfig.json`'s options, except that a block's own top-level
 * declarations may go unused: `const program = ...` is how an example shows a value. Unused
 * imports and unused locals inside functions are still reported.
 *
 * Also checked: every export of a public module (`src/*.ts`) has a doc comment with `@since`,
 * exactly one `@category` and an `@example`. `src/index.ts` only re-exports the modules as
 * namespaces, so its exports need `@since` alone.
 *
 * How: each block becomes a virtual file under `test/.doc-snippets/` (never written to disk;
 * the directory only places it inside the package, so `"plait"` resolves to `src/index.ts`
 * through the `plait-source` condition and `"effect"` to `node_modules`). Every block is its
 * own module. All blocks go into one TypeScript program with the compiler options of
 * `tsconfig.json`, and each diagnostic is reported at the file and line of the block it came
 * from.
 */
import { assert, describe, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import ts from "typescript"

const root = path.resolve(import.meta.dirname, "..", "..")
const snippetDir = path.join(root, "test", ".doc-snippets")

interface Snippet {
  /** Where the block is, relative to the repository root. */
  readonly source: string
  /** 1-based line of the block's first code line in `source`. */
  readonly line: number
  /** Characters stripped from the start of each line (a doc comment's ` * `, a list indent). */
  readonly indent: number
  readonly code: string
  /** The virtual file the block is checked as. */
  readonly fileName: string
}

// ---------------------------------------------------------------------------------------------
// extraction
// ---------------------------------------------------------------------------------------------

const fence = /^(\s*)(`{3,}|~{3,})\s*([\w-]*)(.*)$/

const isTypeScript = (language: string) => language === "ts" || language === "typescript"

/** The fenced blocks in `lines` (already stripped of any comment prefix). */
const fencedBlocks = (lines: ReadonlyArray<string>) => {
  const blocks: Array<{ start: number; language: string; info: string; indent: number; body: Array<string> }> = []
  for (let i = 0; i < lines.length; i++) {
    const open = fence.exec(lines[i]!)
    if (open === null) continue
    const [, indent, marker, language, info] = open as unknown as [string, string, string, string, string]
    const close = new RegExp(`^\\s*\\${marker[0]}{${marker.length},}\\s*$`)
    const body: Array<string> = []
    let j = i + 1
    for (; j < lines.length; j++) {
      const line = lines[j]!
      if (close.test(line)) break
      body.push(line.startsWith(indent) ? line.slice(indent.length) : line.trimStart())
    }
    blocks.push({ start: i, language, info: info.trim(), indent: indent.length, body })
    i = j
  }
  return blocks
}

const isChecked = (block: { language: string; info: string }) =>
  isTypeScript(block.language) && !block.info.split(/\s+/).includes("no-check")

const virtualName = (source: string, line: number) =>
  path.join(snippetDir, `${source.replace(/[^\w.-]+/g, "_")}_L${line}.ts`)

const fromMarkdown = (source: string): Array<Snippet> => {
  const lines = fs.readFileSync(path.join(root, source), "utf8").split("\n")
  return fencedBlocks(lines).filter(isChecked).map((block) => ({
    source,
    line: block.start + 2,
    indent: block.indent,
    code: block.body.join("\n"),
    fileName: virtualName(source, block.start + 2)
  }))
}

/** Doc comments of a source file, with their lines stripped of ` * ` and their line numbers. */
const docComments = (text: string) => {
  const comments: Array<{ firstLine: number; lines: Array<string>; prefixes: Array<number> }> = []
  const lines = text.split("\n")
  for (let i = 0; i < lines.length; i++) {
    if (!lines[i]!.trimStart().startsWith("/**")) continue
    const comment = { firstLine: i, lines: [] as Array<string>, prefixes: [] as Array<number> }
    for (let j = i; j < lines.length; j++) {
      let line = lines[j]!
      const end = line.indexOf("*/")
      if (end >= 0) line = line.slice(0, end)
      const prefix = /^\s*(\/\*\*|\*)? ?/.exec(line)![0].length
      comment.lines.push(line.slice(prefix))
      comment.prefixes.push(prefix)
      if (end >= 0) {
        i = j
        break
      }
    }
    comments.push(comment)
  }
  return comments
}

const fromSource = (source: string): { snippets: Array<Snippet>; problems: Array<string> } => {
  const snippets: Array<Snippet> = []
  const problems: Array<string> = []
  for (const comment of docComments(fs.readFileSync(path.join(root, source), "utf8"))) {
    for (let i = 0; i < comment.lines.length; i++) {
      if (!/^@example\b/.test(comment.lines[i]!)) continue
      // The example runs to the next block tag or the end of the comment.
      let end = i + 1
      while (end < comment.lines.length && !/^@\w/.test(comment.lines[end]!)) end++
      const section = comment.lines.slice(i + 1, end)
      const blocks = fencedBlocks(section)
      const at = comment.firstLine + i + 1
      if (!blocks.some((block) => isTypeScript(block.language))) {
        problems.push(`${source}:${at}: @example without a \`\`\`ts block`)
      }
      for (const block of blocks.filter(isChecked)) {
        const line = comment.firstLine + i + 1 + block.start + 2
        snippets.push({
          source,
          line,
          indent: (comment.prefixes[i + 1 + block.start + 1] ?? 0) + block.indent,
          code: block.body.join("\n"),
          fileName: virtualName(source, line)
        })
      }
      i = end - 1
    }
  }
  return { snippets, problems }
}

const filesUnder = (dir: string, accept: (name: string) => boolean): Array<string> =>
  fs.readdirSync(path.join(root, dir), { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && accept(entry.name))
    .map((entry) => path.relative(root, path.join(entry.parentPath, entry.name)))
    .sort()

const collect = () => {
  const markdown = [
    "README.md",
    ...fs.readdirSync(path.join(root, "docs")).filter((name) => name.endsWith(".md")).sort().map((name) =>
      `docs/${name}`
    )
  ]
  const fromSources = filesUnder("src", (name) => name.endsWith(".ts")).map(fromSource)
  return {
    snippets: [...markdown.flatMap(fromMarkdown), ...fromSources.flatMap((found) => found.snippets)],
    problems: fromSources.flatMap((found) => found.problems)
  }
}

// ---------------------------------------------------------------------------------------------
// type-checking
// ---------------------------------------------------------------------------------------------

const compilerOptions = (): ts.CompilerOptions => {
  const configPath = path.join(root, "tsconfig.json")
  const config = ts.readConfigFile(configPath, ts.sys.readFile)
  if (config.error !== undefined) throw new Error(ts.flattenDiagnosticMessageText(config.error.messageText, "\n"))
  const parsed = ts.parseJsonConfigFileContent(config.config, ts.sys, root, undefined, configPath)
  return { ...parsed.options, noEmit: true }
}

/** Type-checks every snippet in one program; returns the diagnostics of each, by file name. */
const typeCheck = (snippets: ReadonlyArray<Snippet>): Map<string, ReadonlyArray<ts.Diagnostic>> => {
  const options = compilerOptions()
  // `export {}` makes a block without imports a module too, so blocks never share a scope.
  const virtual = new Map(snippets.map((snippet) => [snippet.fileName, `${snippet.code}\nexport {}\n`]))
  const host = ts.createCompilerHost(options, true)
  const { fileExists, readFile, getSourceFile } = host
  host.fileExists = (fileName) => virtual.has(fileName) || fileExists.call(host, fileName)
  host.readFile = (fileName) => virtual.get(fileName) ?? readFile.call(host, fileName)
  host.getSourceFile = (fileName, languageVersion, onError, shouldCreate) => {
    const text = virtual.get(fileName)
    return text === undefined
      ? getSourceFile.call(host, fileName, languageVersion, onError, shouldCreate)
      : ts.createSourceFile(fileName, text, languageVersion, true)
  }
  const program = ts.createProgram({ rootNames: [...virtual.keys()], options, host })
  const byFile = new Map<string, ReadonlyArray<ts.Diagnostic>>()
  for (const snippet of snippets) {
    const file = program.getSourceFile(snippet.fileName)!
    const shown = topLevelNames(file)
    byFile.set(
      snippet.fileName,
      [...program.getSyntacticDiagnostics(file), ...program.getSemanticDiagnostics(file)].filter((diagnostic) =>
        !(unusedCodes.has(diagnostic.code) && diagnostic.start !== undefined && shown.has(diagnostic.start))
      )
    )
  }
  return byFile
}

/** "'x' is declared but its value is never read", and its form for types. */
const unusedCodes: ReadonlySet<number> = new Set([6133, 6196])

/** Start positions of the names a block declares at its top level (not its imports). */
const topLevelNames = (file: ts.SourceFile): ReadonlySet<number> => {
  const starts = new Set<number>()
  for (const statement of file.statements) {
    if (ts.isVariableStatement(statement)) {
      for (const declaration of statement.declarationList.declarations) starts.add(declaration.name.getStart(file))
    } else if (
      (ts.isFunctionDeclaration(statement) || ts.isClassDeclaration(statement) ||
        ts.isInterfaceDeclaration(statement) ||
        ts.isTypeAliasDeclaration(statement) || ts.isEnumDeclaration(statement)) && statement.name !== undefined
    ) {
      starts.add(statement.name.getStart(file))
    }
  }
  return starts
}

const describeDiagnostic = (snippet: Snippet, diagnostic: ts.Diagnostic): string => {
  const message = ts.flattenDiagnosticMessageText(diagnostic.messageText, "\n  ")
  if (diagnostic.file === undefined || diagnostic.start === undefined) {
    return `${snippet.source}: TS${diagnostic.code} ${message}`
  }
  const { line, character } = diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start)
  if (diagnostic.file.fileName !== snippet.fileName) {
    return `${snippet.source}:${snippet.line} (in ${path.relative(root, diagnostic.file.fileName)}:${
      line + 1
    }): TS${diagnostic.code} ${message}`
  }
  return `${snippet.source}:${snippet.line + line}:${snippet.indent + character + 1}: TS${diagnostic.code} ${message}`
}

// ---------------------------------------------------------------------------------------------
// doc tags of public exports
// ---------------------------------------------------------------------------------------------

interface Export {
  readonly name: string
  readonly line: number
  readonly tags: ReadonlyArray<string>
}

/** The exports of a module with the tags of the doc comment each is declared under. */
const exportsOf = (source: string): Array<Export> => {
  const file = ts.createSourceFile(
    source,
    fs.readFileSync(path.join(root, source), "utf8"),
    ts.ScriptTarget.Latest,
    true
  )
  const found: Array<Export> = []
  const add = (name: string, node: ts.Node, tagsFrom: ts.Node = node) =>
    found.push({
      name,
      line: file.getLineAndCharacterOfPosition(node.getStart(file)).line + 1,
      tags: ts.getJSDocTags(tagsFrom).map((tag) => tag.tagName.text)
    })
  const isExported = (node: ts.Node) =>
    ts.canHaveModifiers(node) && (ts.getModifiers(node) ?? []).some((m) => m.kind === ts.SyntaxKind.ExportKeyword)
  const overloaded = new Set<string>()
  for (const statement of file.statements) {
    if (ts.isExportDeclaration(statement)) {
      const clause = statement.exportClause
      if (clause === undefined) add("*", statement)
      else if (ts.isNamespaceExport(clause)) add(clause.name.text, statement)
      else {
        for (const specifier of clause.elements) {
          // A specifier documented on its own wins over the comment on the whole `export { }`.
          add(specifier.name.text, specifier, ts.getJSDocTags(specifier).length > 0 ? specifier : statement)
        }
      }
    } else if (ts.isExportAssignment(statement)) {
      add("default", statement)
    } else if (!isExported(statement)) {
      continue
    } else if (ts.isVariableStatement(statement)) {
      for (const declaration of statement.declarationList.declarations) {
        add(declaration.name.getText(file), declaration, statement)
      }
    } else if (ts.isFunctionDeclaration(statement)) {
      // Overloads share the first signature's doc comment.
      const name = statement.name?.text ?? "default"
      if (!overloaded.has(name)) add(name, statement)
      overloaded.add(name)
    } else if (
      ts.isClassDeclaration(statement) || ts.isInterfaceDeclaration(statement) ||
      ts.isTypeAliasDeclaration(statement) ||
      ts.isEnumDeclaration(statement) || ts.isModuleDeclaration(statement)
    ) {
      const kind = ts.isInterfaceDeclaration(statement) || ts.isTypeAliasDeclaration(statement) ? " (type)" : ""
      add(`${statement.name?.getText(file) ?? "default"}${kind}`, statement)
    }
  }
  return found
}

/** What is missing from each export's doc comment, as `file:line Name: missing @tag`. */
const undocumentedExports = (): Array<string> => {
  const modules = fs.readdirSync(path.join(root, "src"), { withFileTypes: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith(".ts"))
    .map((entry) => `src/${entry.name}`)
    .sort()
  const problems: Array<string> = []
  for (const source of modules) {
    const required = source === "src/index.ts" ? ["since"] : ["since", "category", "example"]
    for (const { line, name, tags } of exportsOf(source)) {
      const missing = required.filter((tag) => !tags.includes(tag)).map((tag) => `@${tag}`)
      const categories = tags.filter((tag) => tag === "category").length
      if (missing.length > 0) problems.push(`${source}:${line} ${name}: missing ${missing.join(", ")}`)
      if (categories > 1) problems.push(`${source}:${line} ${name}: ${categories} @category tags, expected one`)
    }
  }
  return problems
}

// ---------------------------------------------------------------------------------------------
// tests
// ---------------------------------------------------------------------------------------------

describe("public exports", () => {
  it("each has @since, one @category and an @example", () => {
    const modules = exportsOf("src/Workflow.ts")
    assert.isTrue(modules.some((found) => found.name === "run"), "the export scan finds Workflow.run")
    const problems = undocumentedExports()
    assert.deepStrictEqual(problems, [], `\n${problems.join("\n")}`)
  })
})

describe("documentation code blocks", () => {
  const { problems, snippets } = collect()
  let diagnostics: Map<string, ReadonlyArray<ts.Diagnostic>> | undefined
  const diagnosticsOf = (snippet: Snippet) => {
    diagnostics ??= typeCheck(snippets)
    return diagnostics.get(snippet.fileName) ?? []
  }

  it("finds the blocks to check", () => {
    assert.isAbove(snippets.filter((snippet) => snippet.source.startsWith("docs/")).length, 0, "no blocks in docs/*.md")
    assert.isAbove(
      snippets.filter((snippet) => snippet.source.startsWith("src/")).length,
      0,
      "no @example blocks in src"
    )
    assert.deepStrictEqual(problems, [])
  })

  // The first test to ask builds the one program for every block; the rest read its results.
  it.each(snippets.map((snippet) => [`${snippet.source}:${snippet.line}`, snippet] as const))(
    "%s type-checks",
    (_, snippet) => {
      const found = diagnosticsOf(snippet).map((diagnostic) => describeDiagnostic(snippet, diagnostic))
      assert.deepStrictEqual(found, [], `\n${found.join("\n")}\n\n${snippet.code}`)
    },
    120_000
  )
})

describe("documentation links", () => {
  it("every relative link in README.md and docs/*.md names a file in the repository", () => {
    const markdown = [
      "README.md",
      ...filesUnder("docs", (name) => name.endsWith(".md")).filter((file) => !file.startsWith("docs/api"))
    ]
    const broken = markdown.flatMap((source) => {
      const text = fs.readFileSync(path.join(root, source), "utf8")
      return [...text.matchAll(/\]\(([^)\s#]+)(?:#[^)]*)?\)/g)]
        .map(([, target]) => target!)
        .filter((target) => !/^[a-z]+:/i.test(target))
        .filter((target) => !fs.existsSync(path.join(root, path.dirname(source), target)))
        .map((target) => `${source}: ${target}`)
    })
    assert.deepStrictEqual(broken, [])
  })
})
