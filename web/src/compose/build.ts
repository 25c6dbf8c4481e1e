/**
 * Pure helpers for compose: recipients for reply/reply-all, subject prefixes, quoting, and the
 * Email object for Email/set create (RFC 8621 §4.6: textBody/htmlBody + bodyValues).
 */
import type { Email, EmailAddress, Identity } from '../jmap/types'

export type Mode = 'new' | 'reply' | 'replyAll' | 'forward'

const RE = /^\s*((re|fw|fwd|\u56de\u590d|\u7b54\u590d|\u8f6c\u53d1)\s*[:\uff1a]\s*)+/i

export function baseSubject(s: string | null | undefined): string {
  return (s ?? '').replace(RE, '').trim()
}

export function replySubject(s: string | null | undefined, mode: Mode): string {
  const base = baseSubject(s)
  if (mode === 'forward') return 'Fwd: ' + base
  if (mode === 'reply' || mode === 'replyAll') return 'Re: ' + base
  return s ?? ''
}

function uniq(list: EmailAddress[], exclude: Set<string>): EmailAddress[] {
  const seen = new Set(exclude)
  const out: EmailAddress[] = []
  for (const a of list) {
    const k = a.email.toLowerCase()
    if (seen.has(k)) continue
    seen.add(k)
    out.push(a)
  }
  return out
}

/** RFC 5322 §3.6.3 reply rules: Reply-To wins over From; reply-all adds To and Cc minus me. */
export function replyRecipients(orig: Email, mode: Mode, mine: string[]): { to: EmailAddress[]; cc: EmailAddress[] } {
  const me = new Set(mine.map((m) => m.toLowerCase()))
  const fromMe = (orig.from ?? []).some((a) => me.has(a.email.toLowerCase()))
  // Replying to a message I sent goes to its original recipients.
  const primary = fromMe ? orig.to ?? [] : orig.replyTo?.length ? orig.replyTo : orig.from ?? []
  if (mode === 'reply') return { to: uniq(primary, new Set()), cc: [] }
  if (mode === 'replyAll') {
    const to = uniq(primary, new Set())
    const taken = new Set([...me, ...to.map((a) => a.email.toLowerCase())])
    const cc = uniq([...(fromMe ? [] : orig.to ?? []), ...(orig.cc ?? [])], taken)
    return { to: fromMe ? to : to.filter((a) => !me.has(a.email.toLowerCase())), cc }
  }
  return { to: [], cc: [] }
}

/** In-Reply-To / References for a reply (RFC 5322 §3.6.4). */
export function threadHeaders(orig: Email): { inReplyTo: string[] | null; references: string[] | null } {
  const mid = orig.messageId ?? []
  if (!mid.length) return { inReplyTo: null, references: null }
  const refs = [...(orig.references ?? (orig.inReplyTo ?? [])), ...mid]
  return { inReplyTo: mid, references: refs }
}

export interface DraftAttachment {
  blobId: string
  type: string
  name: string
  size: number
}

export interface DraftInput {
  identity: Identity
  to: EmailAddress[]
  cc: EmailAddress[]
  bcc: EmailAddress[]
  subject: string
  /** null for plain text messages */
  html: string | null
  text: string
  attachments: DraftAttachment[]
  inReplyTo: string[] | null
  references: string[] | null
  draftsMailboxId: string
}

export function buildEmail(d: DraftInput): Record<string, any> {
  const email: Record<string, any> = {
    mailboxIds: { [d.draftsMailboxId]: true },
    keywords: { $draft: true, $seen: true },
    from: [{ name: d.identity.name || null, email: d.identity.email }],
    to: d.to,
    subject: d.subject,
    bodyValues: { text: { value: d.text } } as Record<string, { value: string }>,
    textBody: [{ partId: 'text', type: 'text/plain' }],
    htmlBody: [{ partId: 'text', type: 'text/plain' }],
  }
  if (d.cc.length) email.cc = d.cc
  if (d.bcc.length) email.bcc = d.bcc
  if (d.identity.replyTo?.length) email.replyTo = d.identity.replyTo
  if (d.html !== null) {
    email.bodyValues.html = { value: d.html }
    email.htmlBody = [{ partId: 'html', type: 'text/html' }]
  }
  if (d.inReplyTo) email.inReplyTo = d.inReplyTo
  if (d.references) email.references = d.references
  if (d.attachments.length) {
    email.attachments = d.attachments.map((a) => ({ blobId: a.blobId, type: a.type, name: a.name, disposition: 'attachment' }))
  }
  return email
}

/** SMTP envelope for EmailSubmission (needed for send-later: RFC 4865 HOLDUNTIL). */
export function envelope(d: DraftInput, sendAt: Date | null) {
  const rcpt = [...d.to, ...d.cc, ...d.bcc].map((a) => ({ email: a.email, parameters: null }))
  const params = sendAt ? { HOLDUNTIL: sendAt.toISOString().replace(/\.\d{3}Z$/, 'Z') } : null
  return { mailFrom: { email: d.identity.email, parameters: params }, rcptTo: rcpt }
}

/**
 * Email/set + EmailSubmission/set in one request. The submission references the created email
 * ("#draft", RFC 8620 §5.3 creation ids) and onSuccessUpdateEmail moves it from Drafts to Sent
 * and clears $draft (RFC 8621 §7.5).
 */
export function sendCalls(
  d: DraftInput,
  opts: { oldDraftId: string | null; sentMailboxId: string | null; sendAt: Date | null; accountId: string },
): [string, Record<string, any>][] {
  const set: Record<string, any> = { accountId: opts.accountId, create: { draft: buildEmail(d) } }
  if (opts.oldDraftId) set.destroy = [opts.oldDraftId]
  const update: Record<string, any> = { [`mailboxIds/${d.draftsMailboxId}`]: null, 'keywords/$draft': null }
  if (opts.sentMailboxId) update[`mailboxIds/${opts.sentMailboxId}`] = true
  const sub: Record<string, any> = { identityId: d.identity.id, emailId: '#draft' }
  if (opts.sendAt) sub.envelope = envelope(d, opts.sendAt)
  return [
    ['Email/set', set],
    ['EmailSubmission/set', { accountId: opts.accountId, create: { sub }, onSuccessUpdateEmail: { '#sub': update } }],
  ]
}
