/* RongMail service worker (built into /sw.js by vite.config.ts, which fills in the version
 * and the precache list).
 *
 *  - App shell: index.html + entry assets precached; /assets/* (hashed, immutable) cache-first;
 *    navigations network-first with the cached shell as the offline fallback.
 *  - Recent mail for offline reading: JMAP POSTs that the app marks read-only
 *    (header X-RM-Offline-Cache: 1 — only Foo/get, Foo/query, Thread/get batches) are sent to
 *    the network first; successful replies are stored keyed by a SHA-256 of the request body,
 *    and replayed when the network is unreachable. At most MAX_MAIL entries are kept.
 *    The session (/.well-known/jmap) is cached the same way.
 *  - The app posts {type: 'clear-mail-cache'} on sign-out.
 */
const VERSION = '__RM_VERSION__'
const PRECACHE = __RM_PRECACHE__
const SHELL = 'rm-shell-' + VERSION
const MAIL = 'rm-mail-v1'
const MAX_MAIL = 400

self.addEventListener('install', (event) => {
  event.waitUntil(
    caches
      .open(SHELL)
      .then((c) => c.addAll(PRECACHE))
      .then(() => self.skipWaiting()),
  )
})

self.addEventListener('activate', (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((keys) => Promise.all(keys.filter((k) => k.startsWith('rm-shell-') && k !== SHELL).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  )
})

self.addEventListener('message', (event) => {
  if (event.data && event.data.type === 'clear-mail-cache') event.waitUntil(caches.delete(MAIL))
})

async function sha256(text) {
  const buf = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text))
  return Array.from(new Uint8Array(buf), (b) => b.toString(16).padStart(2, '0')).join('')
}

async function trim(cache) {
  const keys = await cache.keys()
  for (let i = 0; i < keys.length - MAX_MAIL; i++) await cache.delete(keys[i])
}

function offlineResponse() {
  return new Response(JSON.stringify({ type: 'urn:ietf:params:jmap:error:offline', status: 503, detail: 'offline' }), {
    status: 503,
    headers: { 'Content-Type': 'application/problem+json' },
  })
}

async function cachedJmap(request) {
  const body = await request.clone().text()
  const key = new Request(new URL('/__rm_mail/' + (await sha256(request.url + '\n' + body)), self.location.origin).href)
  const cache = await caches.open(MAIL)
  try {
    const res = await fetch(request)
    if (res.ok) {
      // Store a copy; delete first so the key moves to the end (LRU order for trim()).
      await cache.delete(key)
      await cache.put(key, res.clone())
      trim(cache)
    }
    return res
  } catch (e) {
    const hit = await cache.match(key)
    if (hit) {
      const headers = new Headers(hit.headers)
      headers.set('X-RM-From-Cache', '1')
      return new Response(await hit.blob(), { status: 200, headers })
    }
    return offlineResponse()
  }
}

async function networkFirst(request, cacheName) {
  const cache = await caches.open(cacheName)
  try {
    const res = await fetch(request)
    if (res.ok) await cache.put(request, res.clone())
    return res
  } catch (e) {
    const hit = await cache.match(request)
    if (hit) return hit
    throw e
  }
}

async function cacheFirst(request) {
  const cache = await caches.open(SHELL)
  const hit = await cache.match(request)
  if (hit) return hit
  const res = await fetch(request)
  if (res.ok) await cache.put(request, res.clone())
  return res
}

self.addEventListener('fetch', (event) => {
  const req = event.request
  const url = new URL(req.url)
  if (url.origin !== self.location.origin) return
  if (req.method === 'POST') {
    if (req.headers.get('X-RM-Offline-Cache') === '1') event.respondWith(cachedJmap(req))
    return
  }
  if (req.method !== 'GET') return
  if (req.mode === 'navigate') {
    event.respondWith(
      fetch(req).catch(async () => (await caches.match('/index.html', { cacheName: SHELL })) || Response.error()),
    )
    return
  }
  if (url.pathname === '/.well-known/jmap') {
    event.respondWith(networkFirst(req, MAIL))
    return
  }
  if (url.pathname.startsWith('/assets/') || url.pathname.startsWith('/icons/') || url.pathname === '/manifest.webmanifest') {
    event.respondWith(cacheFirst(req))
  }
  // Everything else (API, blob downloads, event source) goes straight to the network.
})
