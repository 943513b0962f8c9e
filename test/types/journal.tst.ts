import type { Config, Effect, Layer } from "effect"
import type { SqlClient, SqlError } from "effect/sql"
import { Journal, type RunStore, SqliteJournal, SqlJournal } from "plait"
import * as PgJournal from "plait/PgJournal"
import { describe, expect, test } from "tstyche"

describe("journal options", () => {
  test("building a journal can fail with InvalidOption, before any storage error", () => {
    type Backend = Journal.Journal | RunStore.RunStore
    expect(SqliteJournal.layer({ filename: "x.sqlite" })).type.toBe<
      Layer.Layer<Backend, SqlError.SqlError | Journal.InvalidOption>
    >()
    expect(PgJournal.layer({})).type.toBe<Layer.Layer<Backend, SqlError.SqlError | Journal.InvalidOption>>()
    expect(PgJournal.layerConfig({})).type.toBe<
      Layer.Layer<Backend, Config.ConfigError | SqlError.SqlError | Journal.InvalidOption>
    >()
    expect(SqlJournal.layer()).type.toBe<
      Layer.Layer<Backend, SqlError.SqlError | Journal.InvalidOption, SqlClient.SqlClient>
    >()
    expect(SqlJournal.migrate()).type.toBe<
      Effect.Effect<ReadonlyArray<SqlJournal.Migration>, SqlError.SqlError | Journal.InvalidOption, SqlClient.SqlClient>
    >()
  })

  test("the default pool size is a number, and not one to assign", () => {
    expect(PgJournal.defaultMaxConnections).type.toBe<number>()
    // @ts-expect-error Cannot assign to 'defaultMaxConnections' because it is a read-only property
    PgJournal.defaultMaxConnections = 10
    // @ts-expect-error Type 'string' is not assignable to type 'number'
    PgJournal.layer({ maxConnections: "4" })
  })

  test("an InvalidOption names the option and the issue", () => {
    expect<Journal.InvalidOption["option"]>().type.toBe<string>()
    expect<Journal.InvalidOption["issue"]>().type.toBe<string>()
    expect<Journal.InvalidOption["_tag"]>().type.toBe<"InvalidOption">()
  })

  test("the payload bound is a number of bytes and the operation timeout a duration", () => {
    expect(SqliteJournal.layer({ filename: "x", maxPayloadBytes: 1024, operationTimeout: "5 seconds" })).type.not
      .toRaiseError()
    // @ts-expect-error is not assignable -- a size is a number of bytes, not a string
    SqliteJournal.layer({ filename: "x", maxPayloadBytes: "8 MiB" })
    // @ts-expect-error is not assignable -- a timeout is a Duration input
    PgJournal.layer({ operationTimeout: true })
  })
})

describe("journal errors", () => {
  test("a JournalError's reason is one of four, TooLarge among them", () => {
    expect<Journal.JournalError["reason"]>().type.toBe<"Unavailable" | "Corrupt" | "Conflict" | "TooLarge">()
  })

  test("a journal service may state its payload bound; one of its own need not", () => {
    expect<Journal.Journal["Service"]["maxPayloadBytes"]>().type.toBe<number | undefined>()
    expect(Journal.defaultMaxPayloadBytes).type.toBe<number>()
  })

  test("the entry kinds include the items a forEach journals", () => {
    expect<"items">().type.toBeAssignableTo<Journal.EntryKind>()
    expect<"teleport">().type.not.toBeAssignableTo<Journal.EntryKind>()
  })
})

describe("run store", () => {
  test("a claimed run carries its journal when the claim read it, and may not", () => {
    expect<RunStore.Claimed["entries"]>().type.toBe<ReadonlyArray<Journal.JournalEntry> | undefined>()
    expect<RunStore.Claimed>().type.toBeAssignableFrom<{ run: Journal.RunInfo; lease: Journal.Lease }>()
    expect<RunStore.Claimed["run"]>().type.toBe<Journal.RunInfo>()
  })
})

describe("the paths a run waits on", () => {
  test("are a list, stored and returned", () => {
    expect<Journal.RunInfo["waitingFor"]>().type.toBe<ReadonlyArray<string>>()
    expect<Journal.Release>().type.toBeAssignableFrom<{ status: "waiting"; waitingFor: ["approval", "reminder/1"] }>()
    expect<Journal.Release>().type.toBeAssignableFrom<{ status: "queued" }>()
  })

  test("are not text joined with commas", () => {
    expect<Journal.Release>().type.not.toBeAssignableFrom<{ status: "waiting"; waitingFor: "approval, reminder/1" }>()
    expect<Journal.RunInfo["waitingFor"]>().type.not.toBeAssignableTo<string | undefined>()
  })
})
