/**
 * The message list window over a large mailbox: pages are fetched on demand with
 * Email/query(position, limit) + Email/get(#ids back-reference), and push resynchronisation
 * uses Email/changes with a back-reference to /updated.
 */
import { beforeEach, describe, expect, it, vi } from 'vitest'

const TOTAL = 10_000
const requests: any[] = []

function emailFor(id: string) {
  return { id, threadId: 't' + id, mailboxIds: { inbox: true }, keywords: {}, receivedAt: '2026-01-01T00:00:00Z', from: null, subject: id }
}

function respond(body: any) {
  const out: any[] = []
  for (const [name, args, id] of body.methodCalls) {
    if (name === 'Email/query') {
      const ids = Array.from({ length: Math.min(args.limit, TOTAL - args.position) }, (_, i) => 'm' + (args.position + i))
      out.push([name, { ids, position: args.position, total: TOTAL, queryState: 'q1' }, id])
    } else if (name === 'Email/get') {
      const ref = args['#ids']
      const src = ref ? out.find((r) => r[2] === ref.resultOf)![1] : { ids: args.ids }
      const ids = ref?.path === '/updated' ? src.updated : src.ids
      out.push([name, { list: ids.map(emailFor), state: 'e1', notFound: [] }, id])
    } else if (name === 'Email/changes') {
      out.push([name, { oldState: args.sinceState, newState: 'e2', hasMoreChanges: false, created: ['new1'], updated: ['m1'], destroyed: ['m9049'] }, id])
    } else if (name === 'Thread/get') {
      const ref = args['#ids']
      const src = out.find((r) => r[2] === ref.resultOf)![1]
      out.push([name, { list: src.list.map((e: any) => ({ id: e.threadId, emailIds: [e.id, e.id + 'b'] })), state: 't1' }, id])
    } else if (name === 'Mailbox/get') {
      out.push([name, { list: [{ id: 'inbox', name: 'Inbox', role: 'inbox', parentId: null, sortOrder: 0, totalEmails: TOTAL, unreadEmails: 3 }], state: 'mb1' }, id])
    }
  }
  return { methodResponses: out, sessionState: 's' }
}

/** The JMAP session resource both fake servers answer with. */
function sessionResponse(): Response {
  return new Response(JSON.stringify({
    capabilities: {}, accounts: { A: {} }, primaryAccounts: { 'urn:ietf:params:jmap:mail': 'A' }, username: 'u',
    apiUrl: '/api/jmap', downloadUrl: '/d', uploadUrl: '/u', eventSourceUrl: '/e', state: 's',
  }))
}

beforeEach(() => {
  requests.length = 0
  vi.stubGlobal('fetch', async (url: string, init?: RequestInit) => {
    if (url === '/.well-known/jmap') return sessionResponse()
    const body = JSON.parse(String(init!.body))
    requests.push(body)
    return new Response(JSON.stringify(respond(body)))
  })
})

const flush = () => new Promise((r) => setTimeout(r, 0))

describe('mail store list window', () => {
  it('loads only the pages that are on screen', async () => {
    const { client } = await import('../src/stores/session')
    const mail = await import('../src/stores/mail')
    await client.connect()
    const view = mail.openList(mail.makeQuery({ mailboxId: 'inbox', collapse: true }))
    await flush(); await flush()
    expect(view.total).toBe(TOTAL)
    expect(view.ids.length).toBe(TOTAL)
    expect(view.ids[0]).toBe('m0')
    expect(view.ids[50]).toBeUndefined()
    const first = requests[0]
    expect(first.methodCalls[0][0]).toBe('Email/query')
    expect(first.methodCalls[0][1]).toMatchObject({ position: 0, limit: 50, calculateTotal: true, collapseThreads: true, filter: { inMailbox: 'inbox' } })
    expect(first.methodCalls[1][1]['#ids']).toEqual({ resultOf: 'c0', name: 'Email/query', path: '/ids' })
    // Conversation view: thread sizes come in the same request, by back-reference.
    expect(first.methodCalls[2][1]['#ids']).toEqual({ resultOf: 'c1', name: 'Email/get', path: '/list/*/threadId' })
    expect(mail.mail.threadSize.get('tm0')).toBe(2)

    // Jump deep into the mailbox: only page 180 (positions 9000-9049) is fetched.
    requests.length = 0
    mail.ensureRange(9010, 9030)
    await flush(); await flush()
    expect(requests).toHaveLength(1)
    expect(requests[0].methodCalls[0][1].position).toBe(9000)
    expect(view.ids[9010]).toBe('m9010')
    expect(mail.mail.emails.has('m9049')).toBe(true)
    expect(mail.mail.emails.has('m500')).toBe(false)
  })

  it('resynchronises after a push with Email/changes and a back-reference to /updated', async () => {
    const { client } = await import('../src/stores/session')
    const mail = await import('../src/stores/mail')
    client.states.set('Email', 'e1')
    requests.length = 0
    await mail.syncEmails(50)
    const calls = requests[0].methodCalls
    expect(calls[0][0]).toBe('Email/changes')
    expect(calls[0][1].sinceState).toBe('e1')
    expect(calls[1][1]['#ids']).toEqual({ resultOf: 'c0', name: 'Email/changes', path: '/updated' })
    expect(client.states.get('Email')).toBe('e2')
    expect(mail.mail.emails.has('m9049')).toBe(false)
    expect(client.states.stale({ Email: 'e2' })).toEqual([])
  })
})

/**
 * A small JMAP server for the write/read race: answers are computed when a request arrives (so
 * a read sent before a write sees the mailbox as it was), and delivered when the test releases
 * them, in the order it chooses.
 */
function raceServer(inbox: string) {
  const box = new Map<string, string>(['r0', 'r1', 'r2'].map((id) => [id, inbox]))
  let state = 1
  const held: { body: any; answer: any; release: () => void }[] = []
  const email = (id: string) => ({ id, threadId: 't' + id, mailboxIds: { [box.get(id)!]: true }, keywords: {}, receivedAt: '2026-01-01T00:00:00Z', from: null, subject: id })
  function answer(body: any) {
    const out: any[] = []
    for (const [name, args, id] of body.methodCalls) {
      if (name === 'Email/query') {
        const ids = [...box].filter(([, b]) => b === args.filter.inMailbox).map(([i]) => i)
        out.push([name, { ids, position: 0, total: ids.length, queryState: 'q' + state }, id])
      } else if (name === 'Email/get') {
        const ref = args['#ids']
        const src = ref ? out.find((r) => r[2] === ref.resultOf)![1] : { ids: args.ids }
        const ids = ref?.path === '/updated' ? src.updated : src.ids
        out.push([name, { list: ids.map(email), state: 'e' + state, notFound: [] }, id])
      } else if (name === 'Email/changes') {
        out.push([name, { oldState: args.sinceState, newState: 'e' + state, hasMoreChanges: false, created: [], updated: [], destroyed: [] }, id])
      } else if (name === 'Email/set') {
        const old = 'e' + state
        for (const [eid, patch] of Object.entries<any>(args.update ?? {})) box.set(eid, Object.keys(patch.mailboxIds)[0])
        state++
        out.push([name, { oldState: old, newState: 'e' + state, updated: Object.fromEntries(Object.keys(args.update ?? {}).map((k) => [k, null])) }, id])
      } else if (name === 'Mailbox/get') {
        out.push([name, { list: [], state: 'mb' + state }, id])
      }
    }
    return { methodResponses: out, sessionState: 's' }
  }
  vi.stubGlobal('fetch', async (url: string, init?: RequestInit) => {
    if (url === '/.well-known/jmap') return sessionResponse()
    const body = JSON.parse(String(init!.body))
    const a = answer(body)
    return new Promise<Response>((resolve) => held.push({ body, answer: a, release: () => resolve(new Response(JSON.stringify(a))) }))
  })
  /** Release the held request whose first method is `name`. */
  async function release(name: string) {
    const i = held.findIndex((h) => h.body.methodCalls[0][0] === name)
    expect(i, `a held ${name} request`).toBeGreaterThanOrEqual(0)
    held.splice(i, 1)[0].release()
    for (let k = 0; k < 5; k++) await flush()
  }
  return { held, release }
}

describe('our writes against list reads', () => {
  for (const order of [['Email/set', 'Email/changes'], ['Email/changes', 'Email/set']]) {
    it(`an archived row stays gone when a push resync answered before the move lands (${order.join(' then ')})`, async () => {
      const inbox = 'box-in-' + order[0]  // a new list per case (openList keeps an equal one)
      const srv = raceServer(inbox)
      const { client } = await import('../src/stores/session')
      const mail = await import('../src/stores/mail')
      const view = mail.openList(mail.makeQuery({ mailboxId: inbox, collapse: false }))
      await srv.release('Email/query')
      expect(view.ids).toEqual(['r0', 'r1', 'r2'])
      client.states.set('Email', 'e1')

      // A push arrives: the resync goes out and the server answers it with r0 still in the Inbox.
      const sync = mail.syncEmails(50)
      await flush()
      // The user archives r0 before that answer arrives.
      const move = mail.moveEmails([mail.mail.emails.get('r0')!], inbox, 'box-arch')
      await flush()
      expect(view.ids).toEqual(['r1', 'r2'])
      for (const name of order) await srv.release(name)
      await move
      await sync
      // The stale answer was not applied, and one more resync went out after the move.
      expect(view.ids).toEqual(['r1', 'r2'])
      expect(srv.held.map((h) => h.body.methodCalls[0][0])).toEqual(['Email/changes'])
      expect(srv.held[0].body.methodCalls[0][1].sinceState).toBe('e1')
      await srv.release('Email/changes')
      expect(view.ids).toEqual(['r1', 'r2'])
      expect(mail.mail.emails.get('r0')!.mailboxIds).toEqual({ 'box-arch': true })
      expect(client.states.get('Email')).toBe('e2')
      // The push for our own move is no change to us, and no request is left waiting.
      expect(client.states.stale({ Email: 'e2' })).toEqual([])
      expect(srv.held).toEqual([])
    })
  }
})

describe('resyncs run one at a time', () => {
  it('folds the calls made while one runs into a single follow-up, widest range, first rewind', async () => {
    const inbox = 'box-serial'
    const srv = raceServer(inbox)
    const { client } = await import('../src/stores/session')
    const mail = await import('../src/stores/mail')
    mail.openList(mail.makeQuery({ mailboxId: inbox, collapse: false }))
    await srv.release('Email/query')
    client.states.set('Email', 'e1')

    const first = mail.syncEmails(50)
    await flush()
    const second = mail.syncEmails(100, 'e0')  // as settleWrites asks after a dropped read
    const third = mail.syncEmails(150, 'e-later')
    await flush()
    // Only the first is on the wire while it runs.
    expect(srv.held.map((h) => h.body.methodCalls[0][0])).toEqual(['Email/changes'])
    expect(srv.held[0].body.methodCalls[0][1].sinceState).toBe('e1')
    await srv.release('Email/changes')
    await first
    // One follow-up for both calls: rewound to the first rewind given (the first run had
    // advanced the state), over the widest range asked.
    expect(srv.held).toHaveLength(1)
    const calls = srv.held[0].body.methodCalls
    expect(calls[0][1].sinceState).toBe('e0')
    expect(calls.find((c: any) => c[0] === 'Email/query')[1].limit).toBe(150)
    await srv.release('Email/changes')
    await Promise.all([second, third])
    expect(srv.held).toEqual([])
  })
})
