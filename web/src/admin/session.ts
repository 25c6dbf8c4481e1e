/** Who is signed in to the console: the admin principal from GET /api/admin/me. */
import { reactive } from 'vue'
import { api, ApiError, setCsrf, type AdminMe } from './api'
import { login as webLogin, logout as webLogout, me as webMe, AuthError } from '../api/auth'

export const session = reactive({
  ready: false,
  me: null as AdminMe | null,
  csrf: null as string | null,
  error: '' as '' | 'bad' | 'throttled' | 'notAdmin' | 'network',
})

export function can(perm: string | undefined, roles?: string[]): boolean {
  if (roles && !(session.me && roles.includes(session.me.role))) return false
  return !perm || !!session.me?.permissions.includes(perm)
}

async function loadAdmin(): Promise<void> {
  try {
    session.me = await api<AdminMe>('GET', '/me')
  } catch (e) {
    session.me = null
    if (e instanceof ApiError && e.status === 403) session.error = 'notAdmin'
    else throw e
  }
}

export async function restore(): Promise<void> {
  try {
    const who = await webMe()
    if (who) {
      session.csrf = who.csrfToken
      setCsrf(who.csrfToken)
      await loadAdmin()
    }
  } catch {
    session.error = 'network'
  } finally {
    session.ready = true
  }
}

export async function signIn(username: string, password: string): Promise<boolean> {
  session.error = ''
  try {
    const who = await webLogin(username, password)
    session.csrf = who.csrfToken
    setCsrf(who.csrfToken)
    await loadAdmin()
    return session.me !== null
  } catch (e) {
    if (e instanceof AuthError) session.error = e.code === 'throttled' ? 'throttled' : e.code === 'network' ? 'network' : 'bad'
    else session.error = 'network'
    return false
  }
}

export async function signOut(): Promise<void> {
  await webLogout(session.csrf)
  session.me = null
  session.csrf = null
  setCsrf(null)
}
