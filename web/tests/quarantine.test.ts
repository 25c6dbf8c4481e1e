import { afterEach, describe, expect, it, vi } from 'vitest'
import { isMalware, QuarantineApi, QuarantineError, tagReason, type QuarantineTag } from '../src/api/quarantine'

const tag = (name: string, score = 1): QuarantineTag => ({ name, score, reason: 'en ' + name, reason_zh: 'zh ' + name })

afterEach(() => vi.unstubAllGlobals())

describe('quarantine API client', () => {
  it('knows which tags only an admin may release (mirrors the server)', () => {
    expect(isMalware({ tags: [tag('IMPERSONATE_EXECUTIVE', 6)] })).toBe(false)
    for (const n of ['VIRUS_FOUND', 'ATTACH_DOUBLE_EXT', 'ARCHIVE_BOMB', 'OFFICE_MACRO', 'YARA_MATCH'])
      expect(isMalware({ tags: [tag('BAYES_HAM', -2), tag(n)] }), n).toBe(true)
  })
  it('explains a tag in the UI language, falling back to the other one and the name', () => {
    expect(tagReason(tag('X'), 'zh-CN')).toBe('zh X')
    expect(tagReason(tag('X'), 'en')).toBe('en X')
    expect(tagReason({ name: 'Y', score: 1, reason: 'only en', reason_zh: '' }, 'zh-CN')).toBe('only en')
    expect(tagReason({ name: 'Z', score: 1, reason: '', reason_zh: '' }, 'en')).toBe('Z')
  })
  it('builds the query, sends CSRF and the language only where it should, surfaces the detail', async () => {
    const calls: { url: string; init: RequestInit }[] = []
    const replies = [
      new Response(JSON.stringify({ items: [], next: null }), { status: 200, headers: { 'Content-Type': 'application/json' } }),
      new Response(JSON.stringify({ status: 403, detail: 'not allowed here' }), { status: 403 }),
    ]
    vi.stubGlobal('fetch', async (url: string, init: RequestInit) => {
      calls.push({ url, init })
      return replies.shift()!
    })
    const api = new QuarantineApi(() => 'tok', () => 'en')
    expect(await api.list({ scope: 'tenant', rcpt: 'a@b.cn', tag: '', before: null, limit: 20 })).toEqual({ items: [], next: null })
    expect(calls[0].url).toBe('/api/quarantine?scope=tenant&rcpt=a%40b.cn&limit=20')
    const h0 = calls[0].init.headers as Record<string, string>
    expect(h0['Accept-Language']).toBe('en')
    expect(h0['X-CSRF-Token']).toBeUndefined()
    const err = await api.release(7).catch((e) => e)
    expect(err).toBeInstanceOf(QuarantineError)
    expect([err.status, err.message]).toEqual([403, 'not allowed here'])
    expect(calls[1].url).toBe('/api/quarantine/7/release')
    expect((calls[1].init.headers as Record<string, string>)['X-CSRF-Token']).toBe('tok')
    expect(calls[1].init.method).toBe('POST')
  })
})
