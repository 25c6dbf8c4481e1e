/**
 * Authentication state, the one JmapClient, push and online status.
 * The CSRF token lives only in memory (re-obtained from GET /api/me after a reload).
 */
import { reactive } from 'vue'
import * as auth from '../api/auth'
import { JmapClient, JmapError } from '../jmap/client'
import { Push } from '../jmap/push'

export const session = reactive({
  status: 'unknown' as 'unknown' | 'anonymous' | 'ready' | 'offline',
  me: null as auth.Me | null,
  online: typeof navigator === 'undefined' ? true : navigator.onLine,
  pushConnected: false,
})

let onExpired: () => void = () => {}
export function setExpiredHandler(fn: () => void): void {
  onExpired = fn
}

export const client = new JmapClient({
  csrfToken: () => session.me?.csrfToken ?? null,
  onUnauthorized: () => {
    if (session.status === 'ready') {
      session.status = 'anonymous'
      session.me = null
      onExpired()
    }
  },
})

let push: Push | null = null
let pushHandler: ((changed: Record<string, string>) => void) | null = null
let reconnectHandler: (() => void) | null = null

export function onPush(changed: (c: Record<string, string>) => void, reconnect: () => void): void {
  pushHandler = changed
  reconnectHandler = reconnect
}

/** Called at start-up: resume an existing cookie session, if any. */
export async function restore(): Promise<void> {
  try {
    const m = await auth.me()
    if (!m) {
      session.status = 'anonymous'
      return
    }
    session.me = m
    await client.connect()
    session.status = 'ready'
    startPush()
  } catch (e) {
    // Offline: the service worker may still serve cached mail; keep the last known identity.
    const cached = localStorage.getItem('rm.lastMe')
    if (cached && !session.online) {
      session.me = JSON.parse(cached)
      try {
        await client.connect()
        session.status = 'offline'
        return
      } catch {
        /* fall through */
      }
    }
    const network = (e as Error)?.message === 'network' || (e instanceof JmapError && e.kind === 'network')
    session.status = network && cached ? 'offline' : 'anonymous'
  }
}

export async function signIn(username: string, password: string): Promise<void> {
  await started(await auth.login(username, password))
}

/** Finish a login whose password expired: set the new one (server policy applies). */
export async function changeExpiredPassword(ticket: string, password: string): Promise<void> {
  await started(await auth.changePassword(ticket, password))
}

async function started(m: auth.Me): Promise<void> {
  session.me = m
  localStorage.setItem('rm.lastMe', JSON.stringify({ accountId: m.accountId, displayName: m.displayName }))
  await client.connect()
  session.status = 'ready'
  startPush()
}

export async function signOut(): Promise<void> {
  const token = session.me?.csrfToken ?? null
  push?.stop()
  push = null
  await auth.logout(token)
  session.me = null
  session.status = 'anonymous'
  client.session = null
  client.states.forget()
  localStorage.removeItem('rm.lastMe')
  await clearOfflineCache()
}

export async function clearOfflineCache(): Promise<void> {
  navigator.serviceWorker?.controller?.postMessage({ type: 'clear-mail-cache' })
  if (typeof caches !== 'undefined') {
    const keys = await caches.keys()
    await Promise.all(keys.filter((k) => k.startsWith('rm-mail')).map((k) => caches.delete(k)))
  }
}

function startPush(): void {
  if (push || !client.session?.eventSourceUrl) return
  push = new Push({
    url: client.eventSourceUrl(),
    accountId: client.accountId,
    onChange: (c) => pushHandler?.(c),
    onReconnect: () => reconnectHandler?.(),
    onStatus: (ok) => (session.pushConnected = ok),
  })
  push.start()
}

if (typeof window !== 'undefined') {
  window.addEventListener('online', () => {
    session.online = true
    if (session.status === 'offline') restore()
  })
  window.addEventListener('offline', () => (session.online = false))
}
