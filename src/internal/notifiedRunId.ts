/**
 * How a Postgres notification names its run. `NOTIFY` refuses a payload over 8000 bytes, and a
 * refused notification fails the statement that sends it: a payload must not grow with the run
 * id. An id of at most {@link notifiedIdBytes} UTF-8 bytes (a UUID, `order-7`) travels as it is;
 * a longer one as its MD5 digest, which the receiving process reads as {@link digestedRunId}: NUL
 * and 32 hex digits, a string no valid run id can be, so it never names another run.
 */
import { createHash } from "node:crypto"

/** The longest run id a notification carries as it is, in UTF-8 bytes. */
export const notifiedIdBytes = 64

/** `'r', <id or NULL>, 'h', <NULL or md5 of the id>`: the run's fields of a `json_build_object`. */
export const runFields = (id: string): string =>
  `'r', CASE WHEN octet_length(${id}) <= ${notifiedIdBytes} THEN ${id} END, 'h', CASE WHEN octet_length(${id}) > ${notifiedIdBytes} THEN md5(${id}) END`

/** What a notification received for the run `runId` carries as its run id when `runId` is long. */
export const digestedRunId = (runId: string): string => `\u0000${createHash("md5").update(runId, "utf8").digest("hex")}`

/** The run id a received payload names: the id itself, or the digested form of a long one. */
export const receivedRunId = (id: string | null | undefined, digest: string | null | undefined): string =>
  typeof id === "string" ? id : `\u0000${digest ?? ""}`

/** Whether a notification's run id names the run `runId`, directly or by its digest. */
export const namesRun = (notified: string, runId: string): boolean =>
  notified === runId || (notified.charCodeAt(0) === 0 && notified === digestedRunId(runId))
