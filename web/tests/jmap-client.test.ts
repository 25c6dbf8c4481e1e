import { describe, expect, it, vi } from 'vitest'
import { Batch, BatchResult, JmapClient, JmapError, resolvePointer } from '../src/jmap/client'
import { StateTracker } from '../src/jmap/state'
import { Push } from '../src/jmap/push'
import type { Session } from '../src/jmap/types'

const SESSION: Session = {
  capabilities: { 'urn:ietf:params:jmap:core': {}, 'urn:ietf:params:jmap:mail': {} },
  accounts: { A1: { name: 'u@example.com', isPersonal: true, isReadOnly: false, accountCapabilities: {} } },
  primaryAccounts: { 'urn:ietf:params:jmap:mail': 'A1' },
  username: 'u@example.com',
  apiUrl: '/custom/api/path',
  downloadUrl: '/dl/{accountId}/{blobId}/{name}?type={type}',
  uploadUrl: '/ul/{accountId}',
  eventSourceUrl: '/ev?types={types}&closeafter={closeafter}&ping={ping}',
  state: 's1',
}

function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } })
}

function makeClient(handler: (url: string, init?: RequestInit) => Response | Promise<Response>, onUnauthorized = vi.fn()) {
  const fetchImpl = vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = String(input)
    if (url === '/.well-known/jmap') return json(SESSION)
    return handler(url, init)
  })
  const client = new JmapClient({ fetch: fetchImpl as unknown as typeof fetch, csrfToken: () => 'tok-123', onUnauthorized })
  return { client, fetchImpl, onUnauthorized }
}

describe('Batch and back-references (RFC 8620 §3.7)', () => {
  it('numbers calls and builds result references', () => {
    const b = new Batch()
    const q = b.add('Email/query', { accountId: 'A1', filter: { inMailbox: 'inbox' }, limit: 50 })
    const g = b.add('Email/get', { accountId: 'A1', '#ids': q.ref('/ids'), properties: ['subject'] })
    const th = b.add('Thread/get', { accountId: 'A1', '#ids': g.ref('/list/*/threadId') })
    const req = b.toRequest()
    expect(req.methodCalls.map((c) => c[2])).toEqual(['c0', 'c1', 'c2'])
    expect(req.methodCalls[1][1]['#ids']).toEqual({ resultOf: 'c0', name: 'Email/query', path: '/ids' })
    expect(req.methodCalls[2][1]['#ids']).toEqual({ resultOf: 'c1', name: 'Email/get', path: '/list/*/threadId' })
    expect(th.id).toBe('c2')
    expect(req.using).toEqual(['urn:ietf:params:jmap:core', 'urn:ietf:params:jmap:mail'])
  })

  it('adds the submission capability when needed', () => {
    const b = new Batch()
    b.add('EmailSubmission/set', { accountId: 'A1', create: {} })
    expect(b.toRequest().using).toContain('urn:ietf:params:jmap:submission')
  })

  it('resolves pointers with the * wildcard, flattening arrays', () => {
    const result = { list: [{ emailIds: ['a', 'b'] }, { emailIds: ['c'] }], ids: ['x'] }
    expect(resolvePointer(result, '/ids')).toEqual(['x'])
    expect(resolvePointer(result, '/list/*/emailIds')).toEqual(['a', 'b', 'c'])
    expect(() => resolvePointer(result, '/nope')).toThrow('invalidResultReference')
  })
})

describe('BatchResult', () => {
  it('returns responses by call and raises method errors', () => {
    const b = new Batch()
    const a = b.add('Email/get', {})
    const c = b.add('Email/changes', {})
    const r = new BatchResult({
      sessionState: 's1',
      methodResponses: [
        ['Email/get', { list: [1], state: 'e1' }, 'c0'],
        ['error', { type: 'cannotCalculateChanges' }, 'c1'],
      ],
    })
    expect(r.get(a).list).toEqual([1])
    expect(() => r.get(c)).toThrowError(JmapError)
    try {
      r.get(c)
    } catch (e) {
      expect((e as JmapError).kind).toBe('method')
      expect((e as JmapError).type).toBe('cannotCalculateChanges')
    }
    expect(r.maybe(c)).toBeUndefined()
  })

  it('picks the named response when a call id has an implicit second response', () => {
    const b = new Batch()
    const s = b.add('EmailSubmission/set', {})
    const r = new BatchResult({
      sessionState: 's1',
      methodResponses: [
        ['EmailSubmission/set', { created: { sub: { id: 'S1' } } }, 'c0'],
        ['Email/set', { updated: { E1: null } }, 'c0'],
      ],
    })
    expect(r.get(s).created.sub.id).toBe('S1')
    expect(r.all(s)).toHaveLength(2)
  })
})

describe('JmapClient transport', () => {
  it('uses the session apiUrl and sends the CSRF header', async () => {
    const { client, fetchImpl } = makeClient(() =>
      json({ sessionState: 's1', methodResponses: [['Mailbox/get', { list: [], state: 'm1' }, 'c0']] }),
    )
    await client.connect()
    const res = await client.call('Mailbox/get', { accountId: client.accountId, ids: null })
    expect(res.state).toBe('m1')
    const [url, init] = fetchImpl.mock.calls[1]
    expect(url).toBe('/custom/api/path')
    expect((init!.headers as Record<string, string>)['X-CSRF-Token']).toBe('tok-123')
    expect(init!.method).toBe('POST')
    expect(JSON.parse(String(init!.body)).methodCalls[0][0]).toBe('Mailbox/get')
    expect(client.accountId).toBe('A1')
  })

  it('marks cacheable read requests for the service worker', async () => {
    const { client, fetchImpl } = makeClient(() => json({ sessionState: 's1', methodResponses: [] }))
    await client.send(client.batch(), { cacheable: true })
    const init = fetchImpl.mock.calls[1][1]!
    expect((init.headers as Record<string, string>)['X-RM-Offline-Cache']).toBe('1')
  })

  it('maps 401 to an unauthorized error and calls the handler', async () => {
    const { client, onUnauthorized } = makeClient(() => new Response('', { status: 401 }))
    await expect(client.send(client.batch())).rejects.toMatchObject({ kind: 'unauthorized' })
    expect(onUnauthorized).toHaveBeenCalledOnce()
  })

  it('maps RFC 7807 problem details to request errors', async () => {
    const { client } = makeClient(() =>
      json({ type: 'urn:ietf:params:jmap:error:notRequest', status: 400, detail: 'bad' }, 400),
    )
    await expect(client.send(client.batch())).rejects.toMatchObject({ kind: 'request', type: 'notRequest', status: 400 })
  })

  it('maps fetch failures to network errors', async () => {
    const { client } = makeClient(() => {
      throw new TypeError('Failed to fetch')
    })
    await client.connect()
    await expect(client.send(client.batch())).rejects.toMatchObject({ kind: 'network' })
  })

  it('expands URL templates from the session', async () => {
    const { client } = makeClient(() => json({}))
    await client.connect()
    expect(client.downloadUrl('B 1', 'image/png', '发票.png')).toBe(
      '/dl/A1/B%201/%E5%8F%91%E7%A5%A8.png?type=image%2Fpng',
    )
    expect(client.uploadUrl()).toBe('/ul/A1')
    expect(client.eventSourceUrl()).toBe('/ev?types=*&closeafter=no&ping=300')
  })

  it('refetches the session when sessionState changes', async () => {
    const { client, fetchImpl } = makeClient(() => json({ sessionState: 's2', methodResponses: [] }))
    await client.connect()
    await client.send(client.batch())
    await new Promise((r) => setTimeout(r, 0))
    expect(fetchImpl.mock.calls.filter((c) => c[0] === '/.well-known/jmap')).toHaveLength(2)
  })

  it('feeds every response to the state tracker', async () => {
    const { client } = makeClient(() =>
      json({
        sessionState: 's1',
        methodResponses: [
          ['Mailbox/get', { list: [], state: 'm1' }, 'c0'],
          ['Email/get', { list: [], state: 'e1' }, 'c1'],
        ],
      }),
    )
    await client.send(client.batch())
    expect(client.states.get('Mailbox')).toBe('m1')
    expect(client.states.get('Email')).toBe('e1')
  })
})

describe('StateTracker', () => {
  it('records the first /get state only', () => {
    const s = new StateTracker()
    s.observe('Email/get', { state: 'a' })
    s.observe('Email/get', { state: 'b' })
    expect(s.get('Email')).toBe('a')
  })

  it('advances on /set only when oldState matches (our own write)', () => {
    const s = new StateTracker()
    s.set('Email', 'a')
    s.observe('Email/set', { oldState: 'a', newState: 'b' })
    expect(s.get('Email')).toBe('b')
    s.observe('Email/set', { oldState: 'x', newState: 'y' })
    expect(s.get('Email')).toBe('b')
  })

  it('advances on /changes unless more changes remain', () => {
    const s = new StateTracker()
    s.set('Email', 'a')
    s.observe('Email/changes', { oldState: 'a', newState: 'b', hasMoreChanges: true })
    expect(s.get('Email')).toBe('a')
    s.observe('Email/changes', { oldState: 'a', newState: 'c', hasMoreChanges: false })
    expect(s.get('Email')).toBe('c')
  })

  it('ignores errors and reports stale types from a push', () => {
    const s = new StateTracker()
    s.set('Email', 'a')
    s.set('Mailbox', 'm')
    s.observe('error', { type: 'serverFail' })
    expect(s.stale({ Email: 'a', Mailbox: 'm2', Thread: 't9' })).toEqual(['Mailbox'])
    expect(s.stale(undefined)).toEqual([])
  })

  it('does not treat our own write as a remote change', () => {
    const s = new StateTracker()
    s.observe('Email/get', { state: 'e1' })
    s.observe('Email/set', { oldState: 'e1', newState: 'e2' })
    expect(s.stale({ Email: 'e2' })).toEqual([])
    expect(s.stale({ Email: 'e3' })).toEqual(['Email'])
  })
})

describe('Push (RFC 8620 §7.3)', () => {
  it('delivers only our account and ignores junk', () => {
    const onChange = vi.fn()
    const p = new Push({ url: '/ev', accountId: 'A1', onChange })
    p.handle('not json')
    p.handle(JSON.stringify({ '@type': 'Other' }))
    p.handle(JSON.stringify({ '@type': 'StateChange', changed: { B2: { Email: 'x' } } }))
    p.handle(JSON.stringify({ '@type': 'StateChange', changed: { A1: { Email: 'e9' } } }))
    expect(onChange).toHaveBeenCalledTimes(1)
    expect(onChange).toHaveBeenCalledWith({ Email: 'e9' })
  })
})
