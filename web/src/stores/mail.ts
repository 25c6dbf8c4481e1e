/**
 * Mail data: mailboxes, the current message list (a sparse window over an Email/query result,
 * so 10,000+ messages cost only the rows on screen), thread bodies, and the write actions
 * (keywords, move, archive, delete, undo). Push state changes resynchronise via /changes.
 */
import { reactive, ref } from 'vue'
import type { Email, Identity, Mailbox, Thread } from '../jmap/types'
import { client } from './session'
import type { BatchResult, Call } from '../jmap/client'
import { setError } from '../util/errors'
import { SPAM_HEADER_PROP } from '../util/spam'

export const PAGE = 50
export const LIST_PROPS = [
  'id', 'threadId', 'mailboxIds', 'keywords', 'from', 'to', 'subject', 'receivedAt', 'preview',
  'hasAttachment', 'size',
]
export const BODY_PROPS = [
  ...LIST_PROPS, 'blobId', 'cc', 'bcc', 'replyTo', 'sender', 'sentAt', 'messageId', 'inReplyTo',
  'references', 'htmlBody', 'textBody', 'attachments', 'bodyValues', SPAM_HEADER_PROP,
]
const ROLE_ORDER = ['inbox', 'drafts', 'sent', 'archive', 'junk', 'trash']

export interface FullEmail extends Email {
  _full?: boolean
}

export const mail = reactive({
  mailboxes: [] as Mailbox[],
  mailboxesLoaded: false,
  emails: new Map<string, FullEmail>(),
  threads: new Map<string, string[]>(),
  /** Number of emails per thread, for the conversation badge in the list. */
  threadSize: new Map<string, number>(),
  identities: [] as Identity[],
})

/** Bumped whenever the list window changes (the id array itself is not reactive, for speed). */
export const listVersion = ref(0)

export interface ListQuery {
  key: string
  filter: Record<string, any>
  mailboxId: string | null
  collapseThreads: boolean
}

export interface ListView {
  query: ListQuery
  ids: (string | undefined)[]
  total: number
  loadedPages: Set<number>
  pending: Map<number, Promise<void>>
  loading: boolean
  error: unknown
}

export let list: ListView | null = null

export function sortedMailboxes(): Mailbox[] {
  return [...mail.mailboxes].sort((a, b) => {
    const ra = a.role ? ROLE_ORDER.indexOf(a.role) : -1
    const rb = b.role ? ROLE_ORDER.indexOf(b.role) : -1
    const ka = ra < 0 ? 100 : ra
    const kb = rb < 0 ? 100 : rb
    if (ka !== kb) return ka - kb
    if (a.sortOrder !== b.sortOrder) return a.sortOrder - b.sortOrder
    return a.name.localeCompare(b.name, 'zh-CN')
  })
}

export function mailboxByRole(role: string): Mailbox | undefined {
  return mail.mailboxes.find((m) => m.role === role)
}

export function mailboxById(id: string | null | undefined): Mailbox | undefined {
  return id ? mail.mailboxes.find((m) => m.id === id) : undefined
}

function mergeEmail(e: Partial<FullEmail> & { id: string }, full = false): void {
  const old = mail.emails.get(e.id)
  if (old) Object.assign(old, e, full ? { _full: true } : {})
  else mail.emails.set(e.id, { ...(e as FullEmail), _full: full })
}

export async function loadMailboxes(): Promise<void> {
  const r = await client.call('Mailbox/get', { accountId: client.accountId, ids: null }, { cacheable: true })
  mail.mailboxes = r.list
  mail.mailboxesLoaded = true
  client.states.set('Mailbox', r.state)
}

export async function loadIdentities(): Promise<Identity[]> {
  if (mail.identities.length) return mail.identities
  const b = client.batch()
  const c = b.add('Identity/get', { accountId: client.accountId, ids: null })
  const r = await client.send(b, { cacheable: true })
  mail.identities = r.get(c).list
  return mail.identities
}

// ---------------------------------------------------------------- our writes against list reads

/**
 * A list read that the server answered before one of our writes still shows the written emails
 * as they were (an archived email still in the Inbox, a read one still unread). The push that
 * follows our write is no change to us (jmap/state.ts: our own `Email/set` advances the known
 * state), so nothing would correct such an answer once applied: the archived row would stay.
 * Every write therefore counts itself here. A list read sent while a write was in flight, or
 * overtaken by one, is not applied; once the last write has settled, one resync (`syncEmails`
 * from the Email state the dropped read started from) brings the list and its rows up to date.
 */
const writes = { seq: 0, inFlight: 0, resync: false, since: undefined as string | undefined, end: PAGE }

/** Taken when a list read is sent: -1 while a write is in flight (the read may overtake it). */
function readTicket(): number {
  return writes.inFlight ? -1 : writes.seq
}

/**
 * May a read sent under `ticket` be applied? If not, a resync of the first `end` rows is due,
 * from Email state `since` (the state the dropped read started from, which is rewound to).
 */
function readHolds(ticket: number, end: number, since?: string): boolean {
  if (ticket === writes.seq) return true
  if (!writes.resync) {
    writes.resync = true
    writes.since = since
    writes.end = end
  } else {
    // Several dropped reads: rewind to the first one's state (the oldest), cover every range.
    writes.since ??= since
    writes.end = Math.max(writes.end, end)
  }
  if (!writes.inFlight) settleWrites()
  return false
}

/** Run one write; the list reads it overtakes are dropped and redone once writes settle. */
async function writing<T>(run: () => Promise<T>): Promise<T> {
  writes.seq++
  writes.inFlight++
  try {
    return await run()
  } finally {
    writes.inFlight--
    if (!writes.inFlight && writes.resync) settleWrites()
  }
}

function settleWrites(): void {
  writes.resync = false
  // Rewind: changes since the dropped read's state are fetched again, with our writes applied.
  const since = writes.since
  writes.since = undefined
  void syncEmails(writes.end, since).catch(() => {
    /* the next push or reconnect resynchronises */
  })
}

// ---------------------------------------------------------------- list window

export function makeQuery(opts: { mailboxId?: string | null; search?: Record<string, any>; collapse: boolean }): ListQuery {
  const filter: Record<string, any> = {}
  if (opts.mailboxId) filter.inMailbox = opts.mailboxId
  const s = opts.search ?? {}
  if (s.text) filter.text = s.text
  if (s.from) filter.from = s.from
  if (s.after) filter.after = new Date(s.after + 'T00:00:00').toISOString().replace('.000', '')
  if (s.before) filter.before = new Date(s.before + 'T23:59:59').toISOString().replace('.000', '')
  if (s.hasAttachment) filter.hasAttachment = true
  const collapse = opts.collapse && !s.text
  return { key: JSON.stringify([filter, collapse]), filter, mailboxId: opts.mailboxId ?? null, collapseThreads: collapse }
}

export function openList(q: ListQuery): ListView {
  if (list && list.query.key === q.key) return list
  list = { query: q, ids: [], total: -1, loadedPages: new Set(), pending: new Map(), loading: true, error: null }
  listVersion.value++
  void loadPage(list, 0)
  return list
}

function queryArgs(q: ListQuery, position: number, limit: number) {
  return {
    accountId: client.accountId,
    filter: q.filter,
    sort: [{ property: 'receivedAt', isAscending: false }],
    collapseThreads: q.collapseThreads,
    position,
    limit,
    calculateTotal: true,
  }
}

/** In conversation view, also fetch the threads of the page (Thread/get by back-reference). */
function addThreadSizes(b: ReturnType<typeof client.batch>, g: Call, q: ListQuery): Call | null {
  if (!q.collapseThreads) return null
  return b.add('Thread/get', { accountId: client.accountId, '#ids': g.ref('/list/*/threadId') })
}
function applyThreadSizes(r: BatchResult, c: Call | null): void {
  if (!c) return
  let res: { list: Thread[] } | undefined
  try {
    res = r.maybe(c)
  } catch {
    return // the badge is optional
  }
  for (const t of res?.list ?? []) mail.threadSize.set(t.id, t.emailIds.length)
}

function loadPage(view: ListView, page: number): Promise<void> {
  const existing = view.pending.get(page)
  if (existing) return existing
  const p = (async () => {
    try {
      const b = client.batch()
      const q = b.add('Email/query', queryArgs(view.query, page * PAGE, PAGE))
      const g = b.add('Email/get', { accountId: client.accountId, '#ids': q.ref('/ids'), properties: LIST_PROPS })
      const th = addThreadSizes(b, g, view.query)
      const ticket = readTicket()
      const r = await client.send(b, { cacheable: true })
      if (!readHolds(ticket, (page + 1) * PAGE)) return
      const qr = r.get(q)
      const gr = r.get(g)
      applyThreadSizes(r, th)
      for (const e of gr.list) mergeEmail(e)
      if (view !== list) return
      if (typeof qr.total === 'number') view.total = qr.total
      else if (qr.ids.length < PAGE) view.total = page * PAGE + qr.ids.length
      if (view.ids.length < view.total) view.ids.length = view.total
      qr.ids.forEach((id: string, i: number) => (view.ids[qr.position + i] = id))
      view.loadedPages.add(page)
      view.error = null
    } catch (e) {
      view.error = e
    } finally {
      view.pending.delete(page)
      view.loading = view.pending.size > 0
      listVersion.value++
    }
  })()
  view.pending.set(page, p)
  view.loading = true
  return p
}

/** Make sure rows [start, end) are loaded (called by the virtual scroller). */
export function ensureRange(start: number, end: number): void {
  const view = list
  if (!view) return
  const max = view.total >= 0 ? view.total : end
  const first = Math.floor(Math.max(0, start) / PAGE)
  const last = Math.floor(Math.max(0, Math.min(end, max) - 1) / PAGE)
  for (let p = first; p <= last; p++) {
    if (!view.loadedPages.has(p)) void loadPage(view, p)
  }
}

/** Re-run the query for the first `count` rows, dropping the rest of the window. */
export async function refreshList(count = PAGE): Promise<void> {
  const view = list
  if (!view) return
  const limit = Math.min(Math.max(PAGE, Math.ceil(count / PAGE) * PAGE), 200)
  const b = client.batch()
  const q = b.add('Email/query', queryArgs(view.query, 0, limit))
  const g = b.add('Email/get', { accountId: client.accountId, '#ids': q.ref('/ids'), properties: LIST_PROPS })
  const th = addThreadSizes(b, g, view.query)
  const mb = b.add('Mailbox/get', { accountId: client.accountId, ids: null })
  const ticket = readTicket()
  const r = await client.send(b, { cacheable: true })
  if (!readHolds(ticket, limit)) return
  applyThreadSizes(r, th)
  applyListReset(view, r.get(q), r.get(g).list, limit)
  const m = r.get(mb)
  mail.mailboxes = m.list
  client.states.set('Mailbox', m.state)
}

function applyListReset(view: ListView, qr: any, emails: Email[], limit: number): void {
  for (const e of emails) mergeEmail(e)
  if (view !== list) return
  view.total = typeof qr.total === 'number' ? qr.total : qr.ids.length
  view.ids = new Array(view.total)
  qr.ids.forEach((id: string, i: number) => (view.ids[i] = id))
  view.loadedPages = new Set()
  for (let p = 0; p < limit / PAGE; p++) view.loadedPages.add(p)
  listVersion.value++
}

/**
 * One resync at a time, whoever asks (a push, a reconnect, our settled writes): two at once
 * would both apply their answers, the second of them possibly older. A call while one runs
 * is folded into a single follow-up run after it, covering the widest range asked and
 * rewound to the first `rewindTo` given (a dropped read's Email state, see settleWrites);
 * the rewind is applied when that run starts, so the run before it cannot advance past it.
 */
const resync = {
  running: null as Promise<void> | null,
  next: null as { end: number; rewindTo?: string; done: Promise<void> } | null,
}

/**
 * Push said Email (or Thread) changed: fetch what changed since our state (RFC 8620 §5.2),
 * back-referencing the /changes result so everything is one round trip. Serialised (`resync`).
 */
export function syncEmails(visibleEnd = PAGE, rewindTo?: string): Promise<void> {
  if (!resync.running) {
    if (rewindTo !== undefined) client.states.set('Email', rewindTo)
    const run = syncEmailsNow(visibleEnd).finally(() => {
      if (resync.running === run) resync.running = null
    })
    resync.running = run
    return run
  }
  const next = resync.next
  if (next) {
    next.end = Math.max(next.end, visibleEnd)
    next.rewindTo ??= rewindTo
    return next.done
  }
  const queued = { end: visibleEnd, rewindTo, done: Promise.resolve() }
  queued.done = resync.running
    .catch(() => undefined)
    .then(() => {
      resync.next = null
      return syncEmails(queued.end, queued.rewindTo)
    })
  resync.next = queued
  return queued.done
}

async function syncEmailsNow(visibleEnd: number): Promise<void> {
  const since = client.states.get('Email')
  const b = client.batch()
  const ch = since ? b.add('Email/changes', { accountId: client.accountId, sinceState: since, maxChanges: 500 }) : null
  const upd = ch
    ? b.add('Email/get', { accountId: client.accountId, '#ids': ch.ref('/updated'), properties: ['id', 'mailboxIds', 'keywords'] })
    : null
  const mb = b.add('Mailbox/get', { accountId: client.accountId, ids: null })
  const view = list
  const limit = Math.min(Math.max(PAGE, Math.ceil(visibleEnd / PAGE) * PAGE), 200)
  const q = view ? b.add('Email/query', queryArgs(view.query, 0, limit)) : null
  const g = q ? b.add('Email/get', { accountId: client.accountId, '#ids': q.ref('/ids'), properties: LIST_PROPS }) : null
  const th = g && view ? addThreadSizes(b, g, view.query) : null
  const ticket = readTicket()
  const r = await client.send(b)
  if (!readHolds(ticket, limit, since)) return
  applyThreadSizes(r, th)
  const changes = ch ? r.maybe(ch) : undefined
  if (ch && !changes) {
    // cannotCalculateChanges: drop cached bodies we cannot trust any more.
    mail.emails.clear()
    mail.threads.clear()
  } else if (changes) {
    for (const id of changes.destroyed) mail.emails.delete(id)
    for (const e of r.get(upd!).list) mergeEmail(e)
    if (changes.created.length || changes.destroyed.length) mail.threads.clear()
  }
  const m = r.get(mb)
  mail.mailboxes = m.list
  client.states.set('Mailbox', m.state)
  if (view && q && g) applyListReset(view, r.get(q), r.get(g).list, limit)
  if (changes?.hasMoreChanges) return syncEmailsNow(visibleEnd)
  if (!changes && g) client.states.set('Email', r.get(g).state)
}

// ---------------------------------------------------------------- threads

/** Thread/get then Email/get of all its emails, with bodies, in one request (two back-refs). */
export async function loadThread(threadId: string): Promise<FullEmail[]> {
  const b = client.batch()
  const th = b.add<{ list: Thread[] }>('Thread/get', { accountId: client.accountId, ids: [threadId] })
  const g = b.add('Email/get', {
    accountId: client.accountId,
    '#ids': th.ref('/list/*/emailIds'),
    properties: BODY_PROPS,
    fetchAllBodyValues: true,
    maxBodyValueBytes: 1_000_000,
  })
  const r = await client.send(b, { cacheable: true })
  const t = r.get(th).list[0]
  if (!t) return []
  for (const e of r.get(g).list) mergeEmail(e, true)
  mail.threads.set(threadId, t.emailIds)
  return threadEmails(threadId)
}

let prefetched = false
/**
 * Once per session, fetch the newest inbox conversations with the exact request the thread view
 * makes, so that the service worker has them for offline reading. Runs when the browser is idle.
 */
export function prefetchRecent(count = 12): void {
  const view = list
  if (prefetched || !view || !navigator.onLine) return
  prefetched = true
  const threads = [...new Set(view.ids.slice(0, count).filter(Boolean).map((id) => mail.emails.get(id!)?.threadId))]
  const run = async () => {
    for (const t of threads) {
      if (!t || mail.threads.has(t)) continue
      try {
        await loadThread(t)
      } catch {
        return
      }
    }
  }
  const idle = (window as any).requestIdleCallback ?? ((fn: () => void) => setTimeout(fn, 1500))
  idle(() => void run())
}

export function threadEmails(threadId: string): FullEmail[] {
  const ids = mail.threads.get(threadId) ?? []
  return ids
    .map((id) => mail.emails.get(id))
    .filter((e): e is FullEmail => !!e)
    .sort((a, b) => a.receivedAt.localeCompare(b.receivedAt))
}

/**
 * Expand list rows to the emails they stand for: with conversation view a row is a thread, so
 * actions apply to the thread's emails that are in the current mailbox.
 */
export async function expandRows(rowIds: string[]): Promise<Email[]> {
  const rows = rowIds.map((id) => mail.emails.get(id)).filter((e): e is FullEmail => !!e)
  if (!list?.query.collapseThreads) return rows
  const threadIds = [...new Set(rows.map((e) => e.threadId))]
  const b = client.batch()
  const th = b.add('Thread/get', { accountId: client.accountId, ids: threadIds })
  const g = b.add('Email/get', {
    accountId: client.accountId,
    '#ids': th.ref('/list/*/emailIds'),
    properties: ['id', 'threadId', 'mailboxIds', 'keywords', 'receivedAt', 'from', 'subject'],
  })
  const r = await client.send(b)
  for (const t of r.get(th).list as Thread[]) mail.threads.set(t.id, t.emailIds)
  const mb = list.query.mailboxId
  const out: Email[] = []
  for (const e of r.get(g).list as Email[]) {
    mergeEmail(e)
    if (!mb || e.mailboxIds[mb]) out.push(mail.emails.get(e.id)!)
  }
  return out
}

// ---------------------------------------------------------------- writes

type Patch = Record<string, any>

async function applyPatches(patches: Record<string, Patch>): Promise<void> {
  const b = client.batch()
  const s = b.add('Email/set', { accountId: client.accountId, update: patches })
  const mb = b.add('Mailbox/get', { accountId: client.accountId, ids: null })
  const r = await writing(() => client.send(b))
  const res = r.get(s)
  const m = r.get(mb)
  mail.mailboxes = m.list
  client.states.set('Mailbox', m.state)
  const failed = res.notUpdated && Object.values(res.notUpdated)[0]
  if (failed) throw setError(failed as any)
}

export async function setKeyword(emails: Email[], keyword: string, on: boolean): Promise<void> {
  const before = new Map(emails.map((e) => [e.id, !!e.keywords[keyword]]))
  const patches: Record<string, Patch> = {}
  for (const e of emails) {
    if (!!e.keywords[keyword] === on) continue
    patches[e.id] = { ['keywords/' + keyword]: on ? true : null }
    if (on) e.keywords[keyword] = true
    else delete e.keywords[keyword]
  }
  if (!Object.keys(patches).length) return
  try {
    await applyPatches(patches)
  } catch (err) {
    for (const e of emails) {
      if (before.get(e.id)) e.keywords[keyword] = true
      else delete e.keywords[keyword]
    }
    throw err
  }
}

export interface MoveUndo {
  count: number
  undo: () => Promise<void>
}

/** Move emails (leaving `fromId`, or everything when null) into `toId`; returns an undo. */
export async function moveEmails(emails: Email[], fromId: string | null, toId: string): Promise<MoveUndo> {
  const originals = new Map(emails.map((e) => [e.id, { ...e.mailboxIds }]))
  const patches: Record<string, Patch> = {}
  for (const e of emails) {
    const next: Record<string, true> = fromId ? { ...e.mailboxIds } : {}
    if (fromId) delete next[fromId]
    next[toId] = true
    patches[e.id] = { mailboxIds: next }
    e.mailboxIds = next
  }
  removeFromList(emails)
  try {
    await applyPatches(patches)
  } catch (err) {
    for (const e of emails) e.mailboxIds = originals.get(e.id)!
    void refreshList()
    throw err
  }
  return {
    count: emails.length,
    undo: async () => {
      const back: Record<string, Patch> = {}
      for (const e of emails) {
        back[e.id] = { mailboxIds: originals.get(e.id) }
        e.mailboxIds = originals.get(e.id)!
      }
      await applyPatches(back)
      await refreshList()
    },
  }
}

export async function destroyEmails(emails: Email[]): Promise<void> {
  removeFromList(emails)
  const b = client.batch()
  const s = b.add('Email/set', { accountId: client.accountId, destroy: emails.map((e) => e.id) })
  const mb = b.add('Mailbox/get', { accountId: client.accountId, ids: null })
  const r = await writing(() => client.send(b))
  mail.mailboxes = r.get(mb).list
  const res = r.get(s)
  for (const id of res.destroyed ?? []) mail.emails.delete(id)
  const failed = res.notDestroyed && Object.values(res.notDestroyed)[0]
  if (failed) {
    void refreshList()
    throw setError(failed as any)
  }
}

/** Drop rows whose email (or thread, in conversation view) no longer belongs to the list. */
function removeFromList(emails: Email[]): void {
  const view = list
  if (!view) return
  const mb = view.query.mailboxId
  const gone = new Set<string>()
  for (const e of emails) {
    if (mb && !e.mailboxIds[mb]) gone.add(e.id)
  }
  if (view.query.collapseThreads) {
    const threads = new Set(emails.map((e) => e.threadId))
    for (const id of view.ids) {
      const row = id ? mail.emails.get(id) : undefined
      if (row && threads.has(row.threadId) && mb && !row.mailboxIds[mb]) gone.add(row.id)
      // Another email of the thread may still be in the mailbox: keep the row then.
      if (row && threads.has(row.threadId) && gone.has(row.id)) {
        const stillThere = (mail.threads.get(row.threadId) ?? []).some((x) => {
          const em = mail.emails.get(x)
          return em && mb && em.mailboxIds[mb]
        })
        if (stillThere) gone.delete(row.id)
      }
    }
  }
  if (!gone.size) return
  // A plain loop, not filter(): the array is sparse (unloaded rows) and filter() skips holes.
  const next: (string | undefined)[] = new Array(view.ids.length)
  let j = 0
  let first = -1
  for (let i = 0; i < view.ids.length; i++) {
    const id = view.ids[i]
    if (id !== undefined && gone.has(id)) {
      if (first < 0) first = i
      continue
    }
    if (id !== undefined) next[j] = id
    j++
  }
  next.length = j
  const removed = view.ids.length - j
  view.ids = next
  view.total = Math.max(0, view.total - removed)
  // Page boundaries moved: let pages after the first removed row be fetched again.
  // The rows after the first removed one shifted up: the tail of each later page is now a
  // hole, so mark those pages unloaded (the scroller refetches them when they come into view).
  view.loadedPages = new Set([...view.loadedPages].filter((p) => (p + 1) * PAGE <= first))
  listVersion.value++
}

/** Forget everything of the previous user (sign-out, expiry, new sign-in). */
export function resetMail(): void {
  list = null
  mail.mailboxes = []
  mail.mailboxesLoaded = false
  mail.emails.clear()
  mail.threads.clear()
  mail.threadSize.clear()
  mail.identities = []
  prefetched = false
  client.states.forget()
  listVersion.value++
}

export function rowIndex(id: string): number {
  return list ? list.ids.indexOf(id) : -1
}
