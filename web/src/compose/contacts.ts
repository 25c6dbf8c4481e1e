/**
 * Address autocomplete from history: the recipients of recent sent mail and the senders of
 * recent received mail (Email/query + Email/get by back-reference), ranked by frequency.
 */
import type { EmailAddress } from '../jmap/types'
import { client } from '../stores/session'
import { mailboxByRole } from '../stores/mail'

interface Contact extends EmailAddress { score: number }
let cache: Promise<Contact[]> | null = null
let cacheAccount = ''

export function loadContacts(): Promise<Contact[]> {
  if (cache && cacheAccount === client.accountId) return cache
  cacheAccount = client.accountId
  cache = (async () => {
    const map = new Map<string, Contact>()
    const add = (list: EmailAddress[] | null | undefined, w: number) => {
      for (const a of list ?? []) {
        const k = a.email.toLowerCase()
        const c = map.get(k)
        if (c) {
          c.score += w
          if (!c.name && a.name) c.name = a.name
        } else map.set(k, { name: a.name, email: a.email, score: w })
      }
    }
    const b = client.batch()
    const sent = mailboxByRole('sent')
    const inbox = mailboxByRole('inbox')
    const sort = [{ property: 'receivedAt', isAscending: false }]
    const qs = sent ? b.add('Email/query', { accountId: client.accountId, filter: { inMailbox: sent.id }, sort, limit: 200 }) : null
    const gs = qs ? b.add('Email/get', { accountId: client.accountId, '#ids': qs.ref('/ids'), properties: ['to', 'cc'] }) : null
    const qi = inbox ? b.add('Email/query', { accountId: client.accountId, filter: { inMailbox: inbox.id }, sort, limit: 200 }) : null
    const gi = qi ? b.add('Email/get', { accountId: client.accountId, '#ids': qi.ref('/ids'), properties: ['from'] }) : null
    if (!b.size) return []
    const r = await client.send(b)
    for (const e of (gs && r.maybe(gs)?.list) || []) {
      add(e.to, 3)
      add(e.cc, 2)
    }
    for (const e of (gi && r.maybe(gi)?.list) || []) add(e.from, 1)
    return [...map.values()].sort((a, b) => b.score - a.score)
  })()
  cache.catch(() => (cache = null))
  return cache
}

export function matchContacts(all: EmailAddress[], q: string, exclude: Set<string>, limit = 8): EmailAddress[] {
  const s = q.trim().toLowerCase()
  if (!s) return []
  return all
    .filter((c) => !exclude.has(c.email.toLowerCase()) && (c.email.toLowerCase().includes(s) || (c.name ?? '').toLowerCase().includes(s)))
    .slice(0, limit)
}
