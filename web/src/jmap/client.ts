/**
 * Minimal JMAP client (RFC 8620): session discovery, batched method calls with result
 * references (§3.7), error model (§3.6), state tracking and URL templates (§2).
 *
 * Nothing here hard-codes apiUrl/downloadUrl/uploadUrl/eventSourceUrl: they all come from the
 * session object at /.well-known/jmap. Every POST carries the X-CSRF-Token header that
 * POST /api/login (or GET /api/me) returned.
 */
import { StateTracker } from './state'
import type { Invocation, JmapRequest, JmapResponse, ResultReference, Session } from './types'
import { CAP_CORE, CAP_MAIL, CAP_SUBMISSION } from './types'

export type ErrorKind = 'network' | 'unauthorized' | 'request' | 'method' | 'protocol'

/** One error type for the whole UI; `type` is the JMAP error type (e.g. "stateMismatch"). */
export class JmapError extends Error {
  constructor(
    readonly kind: ErrorKind,
    readonly type: string,
    message?: string,
    readonly status?: number,
    readonly details?: unknown,
  ) {
    super(message || type)
    this.name = 'JmapError'
  }
}

/** A handle on one call inside a batch; `ref()` builds a back-reference to its result. */
export class Call<T = any> {
  declare readonly _result?: T
  constructor(readonly id: string, readonly name: string) {}
  ref(path: string): ResultReference {
    return { resultOf: this.id, name: this.name, path }
  }
}

export class Batch {
  readonly calls: Invocation[] = []
  private capabilities = new Set<string>([CAP_CORE, CAP_MAIL])

  /** Add a call. Keys starting with '#' are result references (RFC 8620 §3.7). */
  add<T = any>(name: string, args: Record<string, any>): Call<T> {
    const id = 'c' + this.calls.length
    if (name.startsWith('EmailSubmission/') || name.startsWith('Identity/')) {
      this.capabilities.add(CAP_SUBMISSION)
    }
    this.calls.push([name, args, id])
    return new Call<T>(id, name)
  }

  use(capability: string): this {
    this.capabilities.add(capability)
    return this
  }

  get size(): number {
    return this.calls.length
  }

  toRequest(): JmapRequest {
    return { using: [...this.capabilities], methodCalls: this.calls }
  }
}

/** The responses of one batch, looked up by call handle. */
export class BatchResult {
  constructor(readonly response: JmapResponse) {}

  /** All responses carrying this call id (a /set with onSuccessUpdateEmail yields two). */
  all(call: Call): Invocation[] {
    return this.response.methodResponses.filter((r) => r[2] === call.id)
  }

  /** The response of `call`; throws a JmapError (kind "method") if the server returned an error. */
  get<T = any>(call: Call<T>): T {
    const rs = this.all(call)
    const err = rs.find((r) => r[0] === 'error')
    if (err) {
      throw new JmapError('method', String(err[1].type || 'serverFail'), err[1].description, undefined, err[1])
    }
    const ok = rs.find((r) => r[0] === call.name) || rs[0]
    if (!ok) throw new JmapError('protocol', 'missingResponse', `no response for ${call.name}`)
    return ok[1] as T
  }

  /** Like get() but returns undefined instead of throwing on a method error. */
  maybe<T = any>(call: Call<T>): T | undefined {
    try {
      return this.get(call)
    } catch (e) {
      if (e instanceof JmapError && e.kind === 'method') return undefined
      throw e
    }
  }
}

/** Resolve a JSON-pointer-like path with the JMAP '*' extension (RFC 8620 §3.7). Used by tests/mock. */
export function resolvePointer(value: any, path: string): any {
  if (path === '' || path === '/') return value
  const parts = path.replace(/^\//, '').split('/').map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
  const walk = (v: any, i: number): any => {
    if (i === parts.length) return v
    const p = parts[i]
    if (p === '*') {
      if (!Array.isArray(v)) throw new Error('invalidResultReference')
      const out: any[] = []
      for (const item of v) {
        const r = walk(item, i + 1)
        if (Array.isArray(r)) out.push(...r)
        else out.push(r)
      }
      return out
    }
    if (v == null || !(p in v)) throw new Error('invalidResultReference')
    return walk(v[p], i + 1)
  }
  return walk(value, 0)
}

export interface ClientOptions {
  sessionUrl?: string
  fetch?: typeof fetch
  csrfToken: () => string | null
  onUnauthorized?: () => void
}

export interface SendOptions {
  /** Mark a read-only request as cacheable by the service worker (offline reading). */
  cacheable?: boolean
  signal?: AbortSignal
}

export class JmapClient {
  session: Session | null = null
  readonly states = new StateTracker()
  private readonly sessionUrl: string
  private readonly fetchImpl: typeof fetch
  private sessionRefresh: Promise<Session> | null = null

  constructor(private readonly opts: ClientOptions) {
    this.sessionUrl = opts.sessionUrl ?? '/.well-known/jmap'
    this.fetchImpl = opts.fetch ?? ((...a) => fetch(...a))
  }

  async connect(): Promise<Session> {
    let res: Response
    try {
      res = await this.fetchImpl(this.sessionUrl, {
        credentials: 'same-origin',
        headers: { Accept: 'application/json' },
      })
    } catch (e) {
      throw new JmapError('network', 'network', String(e))
    }
    if (res.status === 401 || res.status === 403) {
      this.opts.onUnauthorized?.()
      throw new JmapError('unauthorized', 'unauthorized', undefined, res.status)
    }
    if (!res.ok) throw new JmapError('request', 'sessionUnavailable', undefined, res.status)
    const s = (await res.json()) as Session
    if (!s.apiUrl || !s.accounts) throw new JmapError('protocol', 'badSession')
    this.session = s
    return s
  }

  get accountId(): string {
    const s = this.requireSession()
    return s.primaryAccounts[CAP_MAIL] ?? Object.keys(s.accounts)[0]
  }

  capability<T = any>(name: string): T | undefined {
    return this.session?.capabilities[name] as T | undefined
  }

  batch(): Batch {
    return new Batch()
  }

  /** Fill a URL template from the session (RFC 6570 level 1, as RFC 8620 §2 uses). */
  static expand(template: string, vars: Record<string, string>): string {
    return template.replace(/\{([a-zA-Z]+)\}/g, (_, k: string) => (k in vars ? encodeURIComponent(vars[k]) : ''))
  }

  downloadUrl(blobId: string, type: string, name: string, accountId = this.accountId): string {
    return JmapClient.expand(this.requireSession().downloadUrl, { accountId, blobId, type, name })
  }

  uploadUrl(accountId = this.accountId): string {
    return JmapClient.expand(this.requireSession().uploadUrl, { accountId })
  }

  eventSourceUrl(types = '*', closeafter = 'no', ping = '300'): string {
    return JmapClient.expand(this.requireSession().eventSourceUrl, { types, closeafter, ping })
  }

  csrfToken(): string | null {
    return this.opts.csrfToken()
  }

  async send(batch: Batch, options: SendOptions = {}): Promise<BatchResult> {
    const s = this.session ?? (await this.connect())
    const headers: Record<string, string> = {
      'Content-Type': 'application/json',
      Accept: 'application/json',
    }
    const token = this.opts.csrfToken()
    if (token) headers['X-CSRF-Token'] = token
    if (options.cacheable) headers['X-RM-Offline-Cache'] = '1'
    let res: Response
    try {
      res = await this.fetchImpl(s.apiUrl, {
        method: 'POST',
        credentials: 'same-origin',
        headers,
        body: JSON.stringify(batch.toRequest()),
        signal: options.signal,
      })
    } catch (e) {
      if ((e as Error)?.name === 'AbortError') throw e
      throw new JmapError('network', 'network', String(e))
    }
    if (res.status === 401) {
      this.opts.onUnauthorized?.()
      throw new JmapError('unauthorized', 'unauthorized', undefined, 401)
    }
    if (!res.ok) {
      // RFC 8620 §3.6.1: request-level errors are RFC 7807 problem details.
      let problem: any = null
      try {
        problem = await res.json()
      } catch {
        /* not JSON */
      }
      const type = String(problem?.type ?? 'http' + res.status).replace('urn:ietf:params:jmap:error:', '')
      throw new JmapError('request', type, problem?.detail, res.status, problem)
    }
    let body: JmapResponse
    try {
      body = (await res.json()) as JmapResponse
    } catch {
      throw new JmapError('protocol', 'badJson')
    }
    if (!Array.isArray(body?.methodResponses)) throw new JmapError('protocol', 'badResponse')
    for (const [name, args] of body.methodResponses) this.states.observe(name, args)
    if (body.sessionState && s.state && body.sessionState !== s.state && !this.sessionRefresh) {
      // RFC 8620 §3.4: session changed (e.g. new account shared); refetch in the background.
      this.sessionRefresh = this.connect().finally(() => (this.sessionRefresh = null))
      this.sessionRefresh.catch(() => {})
    }
    return new BatchResult(body)
  }

  /** Convenience: one call, result or throw. */
  async call<T = any>(name: string, args: Record<string, any>, options?: SendOptions): Promise<T> {
    const b = this.batch()
    const c = b.add<T>(name, args)
    const r = await this.send(b, options)
    return r.get(c)
  }

  private requireSession(): Session {
    if (!this.session) throw new JmapError('protocol', 'noSession')
    return this.session
  }
}
