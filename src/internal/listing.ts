/**
 * Paging through runs, newest first: a cursor names the last run of a page by its creation
 * time and id, so the next page starts strictly after it whatever was created meanwhile.
 */
import type { RunInfo } from "../Journal.ts"
import type { RunStatus } from "../RunStatus.ts"

export interface Cursor {
  readonly createdAt: number
  readonly runId: string
}

export const cursorOf = (run: Pick<RunInfo, "createdAt" | "runId">): string =>
  Buffer.from(JSON.stringify([run.createdAt, run.runId])).toString("base64url")

/** The position a cursor names; an unreadable cursor starts from the top. */
export const decodeCursor = (cursor: string | undefined): Cursor | undefined => {
  if (cursor === undefined || cursor === "") return undefined
  try {
    const [createdAt, runId] = JSON.parse(Buffer.from(cursor, "base64url").toString()) as [unknown, unknown]
    return typeof createdAt === "number" && typeof runId === "string" ? { createdAt, runId } : undefined
  } catch {
    return undefined
  }
}

/** The most runs one page holds; `Engine.list` refuses a larger `limit`. */
export const maxPageSize = 1000

export const pageLimit = (limit: number | undefined): number =>
  limit === undefined ? 50 : Math.max(1, Math.min(maxPageSize, Math.floor(limit)))

export const statusesOf = (
  status: RunStatus | ReadonlyArray<RunStatus> | undefined
):
  | ReadonlyArray<RunStatus>
  | undefined => (status === undefined ? undefined : typeof status === "string" ? [status] : status)
