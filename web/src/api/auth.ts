/**
 * Login endpoints (not JMAP). Contract with the server:
 *   POST /api/login  {username, password} -> 200 {csrfToken, accountId, displayName}
 *                    + Set-Cookie (HttpOnly; Secure; SameSite) ; 401 bad credentials ; 429 throttled
 *   POST /api/logout (X-CSRF-Token) -> 204/200, clears the cookie
 *   GET  /api/me     -> 200 same body as login, or 401
 *   Password rotation: /api/login may answer 401 {passwordExpired: true, ticket} (no cookie);
 *   POST /api/login/change-password {ticket, password} -> 200 like login, 400 {detail, code}
 *   when the new password is refused, 401 when the ticket expired.
 */
export interface Me {
  csrfToken: string
  accountId: string
  displayName: string
  /** the signed-in address (the server sends it; used to show "me" in lists) */
  username?: string
}

export class AuthError extends Error {
  constructor(
    readonly code: 'badCredentials' | 'throttled' | 'network' | 'server' | 'passwordExpired' | 'weakPassword',
    readonly status?: number,
    /** passwordExpired: the ticket for changePassword(); weakPassword: the server's reason */
    readonly detail?: string,
  ) {
    super(code)
  }
}

async function parseMe(res: Response): Promise<Me> {
  const body = await res.json()
  if (typeof body?.csrfToken !== 'string') throw new AuthError('server', res.status)
  return body as Me
}

async function postJson(url: string, body: unknown): Promise<Response> {
  try {
    return await fetch(url, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify(body),
    })
  } catch {
    throw new AuthError('network')
  }
}

function failed(res: Response): AuthError {
  if (res.status === 401 || res.status === 403) return new AuthError('badCredentials', res.status)
  if (res.status === 429) return new AuthError('throttled', 429)
  return new AuthError('server', res.status)
}

export async function login(username: string, password: string): Promise<Me> {
  const res = await postJson('/api/login', { username, password })
  if (res.status === 401) {
    const body = await res.json().catch(() => null)
    if (body?.passwordExpired === true && typeof body.ticket === 'string') throw new AuthError('passwordExpired', 401, body.ticket)
  }
  if (!res.ok) throw failed(res)
  return parseMe(res)
}

/** The forced change of an expired password (ticket from AuthError('passwordExpired')). */
export async function changePassword(ticket: string, password: string): Promise<Me> {
  const res = await postJson('/api/login/change-password', { ticket, password })
  if (res.status === 400) {
    const body = await res.json().catch(() => null)
    throw new AuthError('weakPassword', 400, typeof body?.detail === 'string' ? body.detail : undefined)
  }
  if (!res.ok) throw failed(res)
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
