/**
 * What a journal entry is, shared by every backend and by the run that reads it back: the entry
 * kinds this version knows, an entry's identity within its run, and the bound on a stored value.
 * A leaf: it imports nothing of plait's but types.
 */
import type { EntryKind, JournalEntry } from "../Journal.ts"
import { Buffer } from "node:buffer"

// A record rather than an array: adding a kind to the type without listing it here is a compile
// error, so an entry of a new kind is never reported as corrupt by mistake.
const kinds: Record<EntryKind, true> = {
  step: true,
  attempt: true,
  choice: true,
  order: true,
  wake: true,
  signal: true,
  items: true,
  compensable: true,
  compensating: true,
  compensated: true,
  failed: true,
  resumed: true
}

export const isEntryKind = (kind: unknown): kind is EntryKind => typeof kind === "string" && Object.hasOwn(kinds, kind)

/** The identity of an entry within its run: writing the same identity twice keeps the first value. */
export const entryKey = (entry: Pick<JournalEntry, "path" | "kind" | "seq">): string =>
  `${entry.kind}:${entry.seq}:${entry.path}`

/** The largest value, in UTF-8 bytes, a journal stores unless configured otherwise: 8 MiB. */
export const defaultMaxPayloadBytes = 8 * 1024 * 1024

/** Why `value` is too large to store under `limit` UTF-8 bytes, or `undefined` when it fits. */
export const payloadIssue = (value: string, limit: number): string | undefined => {
  // Not text at all: the store's own constraint refuses it, as a malformed entry.
  if (typeof value !== "string") return undefined
  // A UTF-16 code unit is at most 3 UTF-8 bytes and at least 1: most values are decided by
  // their length alone, without counting.
  if (value.length * 3 <= limit) return undefined
  const bytes = value.length > limit ? value.length : Buffer.byteLength(value, "utf8")
  return bytes > limit ? `the value is at least ${bytes} bytes; the journal stores at most ${limit}` : undefined
}
