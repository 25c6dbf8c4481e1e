/**
 * The quarantine API (not JMAP; src/rongmail/protocols/http/quarantine.py), shared by the
 * webmail (the user's own held mail) and the admin console (`scope: 'tenant'`).
 *   GET  /api/quarantine[?scope=tenant&status=&rcpt=&tag=&before=&limit=] -> {items, next}
 *   GET  /api/quarantine/:id/preview   -> plain data (addresses, text, attachment list)
 *   POST /api/quarantine/:id/release   -> delivers to the Inbox, the model learns "not spam"
 *   POST /api/quarantine/:id/delete    -> drops it, the model learns "spam"
 * Errors are RFC 9457 problem details whose `detail` the server already translated
 * (Accept-Language). Every POST carries X-CSRF-Token.
 */

export interface QuarantineTag {
  name: string
  score: number
  /** the server's explanation, English and Chinese (services/spam/rules/tags.toml) */
  reason: string
  reason_zh: string
}

export interface QuarantineItem {
  id: number
  accountId: number | null
  /** the address of the mailbox the message is held for */
  account: string
  direction: 'inbound' | 'outbound'
  size: number
  mailFrom: string
  rcpts: string[]
  from: string
  subject: string
  score: number
  tags: QuarantineTag[]
  status: 'held' | 'released' | 'deleted'
  createdAt: number
  expiresAt: number
  decidedAt: number | null
  decidedBy: number | null
}

export interface QuarantinePage {
  items: QuarantineItem[]
  /** `before` value of the next page; null when there is nothing more */
  next: number | null
}

export interface PreviewAddress {
  name: string
  email: string
}

export interface QuarantinePreview {
  id: number
  from: PreviewAddress[]
  to: PreviewAddress[]
  cc: PreviewAddress[]
  replyTo: PreviewAddress[]
  subject: string
  date: string | null
  text: string
  truncated: boolean
  hasHtml: boolean
  attachments: { name: string; type: string; size: number }[]
}

export interface ListQuery {
  scope?: 'tenant'
  status?: 'held' | 'released' | 'deleted'
  direction?: 'inbound' | 'outbound'
  rcpt?: string
  tag?: string
  before?: number | null
  limit?: number
}

export class QuarantineError extends Error {
  constructor(
    readonly status: number,
    detail: string,
  ) {
    super(detail)
  }
}

/** Tag-name prefixes the server treats as malware: only admins may release such mail. */
export const MALWARE_PREFIXES = ['VIRUS_', 'ATTACH_', 'ARCHIVE_', 'OFFICE_', 'YARA_']

export function isMalware(item: Pick<QuarantineItem, 'tags'>): boolean {
  return item.tags.some((t) => MALWARE_PREFIXES.some((p) => t.name.startsWith(p)))
}

/** The explanation of a tag in the given UI language (the server sends both). */
export function tagReason(tag: QuarantineTag, locale: string): string {
  const text = locale === 'en' ? tag.reason : tag.reason_zh
  return text || tag.reason || tag.reason_zh || tag.name
}

export class QuarantineApi {
  constructor(
    private readonly csrf: () => string | null,
    private readonly lang: () => string,
  ) {}

  private async req<T>(method: 'GET' | 'POST', path: string): Promise<T> {
    const headers: Record<string, string> = { Accept: 'application/json', 'Accept-Language': this.lang() }
    const token = this.csrf()
    if (method === 'POST' && token) headers['X-CSRF-Token'] = token
    let res: Response
    try {
      res = await fetch('/api/quarantine' + path, { method, headers, credentials: 'same-origin' })
    } catch {
      throw new QuarantineError(0, 'network')
    }
    const text = await res.text()
    let body: any = null
    try {
      body = text ? JSON.parse(text) : null
    } catch {
      body = null
    }
    if (!res.ok) throw new QuarantineError(res.status, (body && body.detail) || res.statusText || String(res.status))
    return body as T
  }

  list(q: ListQuery = {}): Promise<QuarantinePage> {
    const p = new URLSearchParams()
    for (const [k, v] of Object.entries(q)) if (v !== undefined && v !== null && v !== '') p.set(k, String(v))
    const qs = p.toString()
    return this.req<QuarantinePage>('GET', qs ? '?' + qs : '')
  }

  preview(id: number): Promise<QuarantinePreview> {
    return this.req<QuarantinePreview>('GET', `/${id}/preview`)
  }

  release(id: number): Promise<QuarantineItem> {
    return this.req<QuarantineItem>('POST', `/${id}/release`)
  }

  remove(id: number): Promise<QuarantineItem> {
    return this.req<QuarantineItem>('POST', `/${id}/delete`)
  }

  rawUrl(id: number): string {
    return `/api/quarantine/${id}/raw`
  }
}
