/**
 * Tracks, per data type ("Email", "Mailbox", ...), the state string our local data reflects
 * (RFC 8620 §1.6.2 / §5.1). Push StateChange events are compared against it so that we only
 * refetch what really changed, and so that our own writes do not trigger a refetch.
 *
 * Rules (kept conservative: a wrong "up to date" would hide changes from the user):
 *  - Foo/get: records the state only if we had none yet (first load).
 *  - Foo/set, Foo/copy, Foo/import: advance to newState only when oldState equals the known
 *    state (nobody else changed anything in between; our own change is applied locally).
 *  - Foo/changes: advance to newState when oldState matches and hasMoreChanges is false.
 *  - Anything else needs an explicit set() by the code that reconciled the data.
 */
export class StateTracker {
  private known = new Map<string, string>()

  get(type: string): string | undefined {
    return this.known.get(type)
  }

  set(type: string, state: string): void {
    this.known.set(type, state)
  }

  forget(type?: string): void {
    if (type === undefined) this.known.clear()
    else this.known.delete(type)
  }

  /** Feed one method response (name, arguments). */
  observe(name: string, args: Record<string, any>): void {
    const slash = name.indexOf('/')
    if (slash < 0 || name === 'error') return
    const type = name.slice(0, slash)
    const method = name.slice(slash + 1)
    const known = this.known.get(type)
    if (method === 'get') {
      if (known === undefined && typeof args.state === 'string') this.known.set(type, args.state)
    } else if (method === 'set' || method === 'copy' || method === 'import') {
      if (typeof args.newState === 'string' && args.oldState != null && args.oldState === known) {
        this.known.set(type, args.newState)
      }
    } else if (method === 'changes') {
      if (args.oldState === known && !args.hasMoreChanges && typeof args.newState === 'string') {
        this.known.set(type, args.newState)
      }
    }
  }

  /** Types whose pushed state differs from what we know (unknown types are ignored). */
  stale(changed: Record<string, string> | undefined): string[] {
    if (!changed) return []
    const out: string[] = []
    for (const [type, state] of Object.entries(changed)) {
      const known = this.known.get(type)
      if (known !== undefined && known !== state) out.push(type)
    }
    return out
  }
}
