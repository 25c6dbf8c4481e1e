/**
 * The server's spam verdict on a message, read from the `X-RongMail-Spam` header that delivery
 * prepends (JMAP `header:X-RongMail-Spam:asText:all`, RFC 8621 §4.1.3). Only the FIRST
 * instance is ours: a sender may put a forged one further down the header, so later instances
 * are ignored. Format: `<action>; score=<n>; tags=NAME(+w), NAME(+w)`.
 */
import type { Email } from '../jmap/types'

export const SPAM_HEADER_PROP = 'header:X-RongMail-Spam:asText:all'

/** Tags of the closed registry (services/spam/rules/tags.toml) that mean "phishing". */
export const PHISHING_TAGS: ReadonlySet<string> = new Set([
  'IMPERSONATE_EXECUTIVE', 'IMPERSONATE_COLLEAGUE', 'LOOKALIKE_DOMAIN', 'IDN_HOMOGRAPH',
  'LINK_TEXT_MISMATCH', 'LINK_LOOKALIKE', 'URL_HOMOGRAPH', 'HTML_CREDENTIAL_FORM',
  'PAYMENT_CHANGE_REQUEST', 'PAYMENT_CHANGE_FIRST_TIME', 'FORGED_OWN_DOMAIN',
])

export interface SpamVerdict {
  action: string
  score: number
  tags: string[]
}

export function parseSpamHeader(value: string | null | undefined): SpamVerdict | null {
  if (!value) return null
  const parts = value.split(';').map((s) => s.trim())
  const action = parts[0] || ''
  if (!/^(deliver|junk|quarantine|reject)$/.test(action)) return null
  let score = 0
  let tags: string[] = []
  for (const p of parts.slice(1)) {
    if (p.startsWith('score=')) score = Number(p.slice(6)) || 0
    else if (p.startsWith('tags=')) tags = [...p.slice(5).matchAll(/([A-Z0-9_]+)\(/g)].map((m) => m[1])
  }
  return { action, score, tags }
}

export function spamVerdict(email: Email): SpamVerdict | null {
  const all = email[SPAM_HEADER_PROP]
  return parseSpamHeader(all?.[0])
}

/** The phishing tags of a message (empty: no warning). */
export function phishingTags(email: Email): string[] {
  return (spamVerdict(email)?.tags ?? []).filter((t) => PHISHING_TAGS.has(t))
}
