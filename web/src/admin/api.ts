/**
 * Admin API client (/api/admin, see src/rongmail/protocols/http/admin and its OpenAPI document
 * at /api/admin/openapi.json). Authentication is the webmail's session cookie (POST /api/login);
 * every write carries X-CSRF-Token. Errors are RFC 9457 problem details whose `detail` is
 * already localized by the server (Accept-Language follows the console language).
 */
import { i18n } from './i18n'

export interface Problem {
  status: number
  title: string
  detail: string
}

export class ApiError extends Error {
  constructor(readonly problem: Problem) {
    super(problem.detail || problem.title)
  }
  get status(): number {
    return this.problem.status
  }
}

let csrf: string | null = null

export function setCsrf(token: string | null): void {
  csrf = token
}

function lang(): string {
  return i18n.global.locale.value === 'en' ? 'en' : 'zh-CN'
}

export async function api<T = any>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json', 'Accept-Language': lang() }
  let payload: BodyInit | undefined
  if (body instanceof FormData) {
    payload = body
  } else if (body !== undefined) {
    headers['Content-Type'] = 'application/json'
    payload = JSON.stringify(body)
  }
  if (method !== 'GET' && csrf) headers['X-CSRF-Token'] = csrf
  let res: Response
  try {
    res = await fetch('/api/admin' + path, { method, headers, body: payload, credentials: 'same-origin' })
  } catch {
    throw new ApiError({ status: 0, title: 'network', detail: i18n.global.t('err.network') })
  }
  const text = await res.text()
  const data = text && (res.headers.get('Content-Type') || '').includes('json') ? JSON.parse(text) : text
  if (!res.ok) {
    const p = typeof data === 'object' && data ? data : {}
    throw new ApiError({ status: res.status, title: p.title || String(res.status), detail: p.detail || res.statusText })
  }
  return data as T
}

export interface AdminMe {
  accountId: number
  address: string
  role: string
  tenantId: number
  domainIds: number[]
  permissions: string[]
}

export interface DnsRecord {
  name: string
  type: string
  value: string
  ttl: number
  why: string
  explanation: string
  managed: boolean
}

export interface CheckResult extends DnsRecord {
  status: 'ok' | 'missing' | 'wrong' | 'error'
  found: string[]
  fix: string
  problem: string
}

export interface PushDiff {
  applied: boolean
  provider: string
  add: DnsRecord[]
  remove: { name: string; type: string; value: string }[]
  conflicts: (DnsRecord & { foreign: string })[]
  unchanged: number
}

export interface ImportRow {
  line: number
  address: string
  status: 'created' | 'error'
  problem: string
  generatedPassword: string | null
}
