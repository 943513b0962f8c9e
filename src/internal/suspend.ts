/**
 * A run that must wait for the outside world (a signal not yet delivered) stops by failing
 * with `Suspend`; `Workflow.run` turns it into a `Suspended` outcome. It never reaches users
 * as an error.
 */
export class Suspend {
  readonly _tag = "plait/Suspend"
  readonly path: string
  readonly waitingFor: "signal"
  constructor(path: string, waitingFor: "signal") {
    this.path = path
    this.waitingFor = waitingFor
  }
}

export const isSuspend = (u: unknown): u is Suspend => u instanceof Suspend
