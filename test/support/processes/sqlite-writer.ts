/**
 * A separate process appending to a SQLite journal, for the multi-process test:
 * `node --conditions=plait-source test/support/processes/sqlite-writer.ts <filename> <lease JSON> <label> <size>...`
 */
import { Effect } from "effect"
import { Journal, SqliteJournal } from "plait"

const [filename, lease, label, ...sizes] = process.argv.slice(2)

const program = Journal.Journal.use((journal) =>
  Effect.forEach(sizes.map(Number), (size, batch) =>
    journal.append(
      JSON.parse(lease!) as Journal.Lease,
      Array.from(
        { length: size },
        (_, i) => ({ path: `${label}${batch}[${i}]`, kind: "step" as const, seq: 0, value: String(i) })
      )
    ))
)

await Effect.runPromise(program.pipe(Effect.provide(SqliteJournal.layer({ filename: filename!, migrate: false }))))
