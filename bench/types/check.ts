/**
 * One measurement of the type-check benchmark, run in a fresh process (as a `tsc` run would be):
 * type-checks one file with the compiler options it is given and prints, as JSON, the time and
 * CPU time of checking it (parsing and binding excluded), the compiler's instantiation and type
 * counts, and its diagnostics.
 *
 *   node bench/types/check.ts <file> <options as JSON>
 */
import ts from "typescript"

const [file, optionsJson] = process.argv.slice(2)
if (file === undefined || optionsJson === undefined) throw new Error("usage: check.ts <file> <options JSON>")

const program = ts.createProgram({ rootNames: [file], options: JSON.parse(optionsJson) as ts.CompilerOptions })
const sourceFile = program.getSourceFile(file)!
program.getTypeChecker()
// Binding every file happens in getTypeChecker; from here on the time is checking.
const started = performance.now()
const cpuStarted = process.cpuUsage()
const diagnostics = program.getSemanticDiagnostics(sourceFile)
const cpu = process.cpuUsage(cpuStarted)
const checkMs = performance.now() - started

console.log(JSON.stringify({
  checkMs,
  checkCpuMs: (cpu.user + cpu.system) / 1000,
  instantiations: program.getInstantiationCount(),
  types: program.getTypeCount(),
  diagnostics: diagnostics.map((diagnostic) => ts.flattenDiagnosticMessageText(diagnostic.messageText, " "))
}))
