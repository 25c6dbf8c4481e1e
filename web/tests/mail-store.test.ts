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

beforeEach(() => {
  requests.length = 0
  vi.stubGlobal('fetch', async (url: string, init?: RequestInit) => {
    if (url === '/.well-known/jmap') {
      return new Response(JSON.stringify({
        capabilities: {}, accounts: { A: {} }, primaryAccounts: { 'urn:ietf:params:jmap:mail': 'A' }, username: 'u',
        apiUrl: '/api/jmap', downloadUrl: '/d', uploadUrl: '/u', eventSourceUrl: '/e', state: 's',
      }))
    }
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
