/**
 * Login endpoints (not JMAP). Contract with the server:
 *   POST /api/login  {username, password} -> 200 {csrfToken, accountId, displayName}
 *                    + Set-Cookie (HttpOnly; Secure; SameSite) ; 401 bad credentials ; 429 throttled
 *   POST /api/logout (X-CSRF-Token) -> 204/200, clears the cookie
 *   GET  /api/me     -> 200 same body as login, or 401
 */
export interface Me {
  csrfToken: string
  accountId: string
  displayName: string
  /** the signed-in address (the server sends it; used to show "me" in lists) */
  username?: string
}

export class AuthError extends Error {
  constructor(readonly code: 'badCredentials' | 'throttled' | 'network' | 'server', readonly status?: number) {
    super(code)
  }
}

async function parseMe(res: Response): Promise<Me> {
  const body = await res.json()
  if (typeof body?.csrfToken !== 'string') throw new AuthError('server', res.status)
  return body as Me
}

export async function login(username: string, password: string): Promise<Me> {
  let res: Response
  try {
    res = await fetch('/api/login', {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify({ username, password }),
    })
  } catch {
    throw new AuthError('network')
  }
  if (res.status === 401 || res.status === 403) throw new AuthError('badCredentials', res.status)
  if (res.status === 429) throw new AuthError('throttled', 429)
  if (!res.ok) throw new AuthError('server', res.status)
  return parseMe(res)
}

/** Returns null when not logged in (401). Throws AuthError('network') when offline. */
export async function me(): Promise<Me | null> {
  let res: Response
  try {
    res = await fetch('/api/me', { credentials: 'same-origin', headers: { Accept: 'application/json' } })
  } catch {
    throw new AuthError('network')
  }
  if (res.status === 401 || res.status === 403) return null
  if (!res.ok) throw new AuthError('server', res.status)
  return parseMe(res)
}

export async function logout(csrfToken: string | null): Promise<void> {
  try {
    await fetch('/api/logout', {
      method: 'POST',
      credentials: 'same-origin',
      headers: csrfToken ? { 'X-CSRF-Token': csrfToken } : {},
    })
  } catch {
    /* offline: the local state is cleared anyway */
  }
}
