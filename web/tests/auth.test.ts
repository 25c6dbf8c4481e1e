import { afterEach, describe, expect, it, vi } from 'vitest'
import { AuthError, changePassword, login } from '../src/api/auth'

afterEach(() => vi.unstubAllGlobals())

const json = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } })

async function caught(p: Promise<unknown>): Promise<AuthError> {
  try {
    await p
  } catch (e) {
    if (e instanceof AuthError) return e
    throw e
  }
  throw new Error('expected an AuthError')
}

describe('login API client: password rotation', () => {
  it('turns the server passwordExpired answer into an AuthError carrying the ticket', async () => {
    vi.stubGlobal('fetch', async () => json(401, { type: 'about:blank#passwordExpired', passwordExpired: true, ticket: 'tk-1' }))
    const e = await caught(login('li@corp.test', 'old'))
    expect(e.code).toBe('passwordExpired')
    expect(e.detail).toBe('tk-1')
  })
  it('keeps an ordinary 401 a bad-credentials error', async () => {
    vi.stubGlobal('fetch', async () => json(401, { type: 'about:blank#unauthorized', detail: 'no' }))
    expect((await caught(login('li@corp.test', 'x'))).code).toBe('badCredentials')
  })
  it('posts the ticket and new password; surfaces the policy reason; returns the session', async () => {
    const calls: { url: string; body: string }[] = []
    const replies = [
      json(400, { type: 'about:blank#weakPassword', detail: 'Password too short, at least 8 characters', code: 'password.too_short' }),
      json(200, { csrfToken: 'c', accountId: 'A1', displayName: 'Li', username: 'li@corp.test' }),
    ]
    vi.stubGlobal('fetch', async (url: string, init: RequestInit) => {
      calls.push({ url, body: String(init.body) })
      return replies.shift()!
    })
    const weak = await caught(changePassword('tk-1', 'short'))
    expect(weak.code).toBe('weakPassword')
    expect(weak.detail).toBe('Password too short, at least 8 characters')
    const me = await changePassword('tk-1', 'New-pass-2026-abc')
    expect(me.csrfToken).toBe('c')
    expect(calls[1].url).toBe('/api/login/change-password')
    expect(JSON.parse(calls[1].body)).toEqual({ ticket: 'tk-1', password: 'New-pass-2026-abc' })
  })
})
