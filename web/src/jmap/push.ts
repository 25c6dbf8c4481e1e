/**
 * JMAP push over EventSource (RFC 8620 §7.3). The URL comes from session.eventSourceUrl.
 * `onChange` gets the changed states of our account; `onReconnect` fires when the stream comes
 * back after an error (events may have been missed: the caller should resynchronise).
 */
import type { StateChange } from './types'

export interface PushOptions {
  url: string
  accountId: string
  onChange: (changed: Record<string, string>) => void
  onReconnect?: () => void
  onStatus?: (connected: boolean) => void
  EventSourceImpl?: typeof EventSource
}

export class Push {
  private es: EventSource | null = null
  private hadError = false

  constructor(private readonly opts: PushOptions) {}

  start(): void {
    if (this.es) return
    const ES = this.opts.EventSourceImpl ?? (typeof EventSource !== 'undefined' ? EventSource : null)
    if (!ES) return
    const es = new ES(this.opts.url, { withCredentials: true })
    this.es = es
    es.addEventListener('open', () => {
      this.opts.onStatus?.(true)
      if (this.hadError) {
        this.hadError = false
        this.opts.onReconnect?.()
      }
    })
    es.addEventListener('error', () => {
      this.hadError = true
      this.opts.onStatus?.(false)
    })
    es.addEventListener('state', (ev) => this.handle((ev as MessageEvent).data))
    // Some servers send the StateChange as an unnamed event.
    es.addEventListener('message', (ev) => this.handle((ev as MessageEvent).data))
  }

  handle(data: string): void {
    let msg: StateChange
    try {
      msg = JSON.parse(data)
    } catch {
      return
    }
    if (msg?.['@type'] !== 'StateChange' || !msg.changed) return
    const mine = msg.changed[this.opts.accountId]
    if (mine) this.opts.onChange(mine)
  }

  stop(): void {
    this.es?.close()
    this.es = null
  }
}
