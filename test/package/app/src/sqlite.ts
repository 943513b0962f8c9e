/** The SQLite journal: imports `plait` only, so it runs without `@effect/sql-pg` installed. */
import { SqliteJournal } from "plait"
import { main } from "./scenario.js"

await main("sqlite", SqliteJournal.layer({ filename: process.env.APP_JOURNAL ?? "journal/app.sqlite" }))
