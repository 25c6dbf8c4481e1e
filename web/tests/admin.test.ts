import { describe, expect, it } from 'vitest'
import zh from '../src/admin/locales/zh-CN.json'
import en from '../src/admin/locales/en.json'
import { readFileSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'

function flatten(obj: Record<string, any>, prefix = ''): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(obj)) {
    const key = prefix ? `${prefix}.${k}` : k
    if (v && typeof v === 'object') Object.assign(out, flatten(v, key))
    else out[key] = String(v)
  }
  return out
}
const fz = flatten(zh)
const fe = flatten(en)
const params = (s: string) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort()

function sources(): string[] {
  const files: string[] = []
  const walk = (d: string) => {
    for (const f of readdirSync(d)) {
      const p = join(d, f)
      if (statSync(p).isDirectory()) {
        if (f !== 'locales') walk(p)
      } else if (/\.(ts|vue)$/.test(f)) files.push(p)
    }
  }
  walk(join(__dirname, '../src/admin'))
  return files
}

describe('admin console catalogue', () => {
  it('zh-CN and en have the same keys and placeholders', () => {
    expect(Object.keys(fz).sort()).toEqual(Object.keys(fe).sort())
    for (const k of Object.keys(fz)) expect([k, params(fz[k])]).toEqual([k, params(fe[k])])
  })
  it('every literal key used by the console exists', () => {
    const used = new Set<string>()
    for (const f of sources()) {
      for (const m of readFileSync(f, 'utf8').matchAll(/\bt\(\s*'([a-zA-Z]+\.[a-zA-Z.]+)'/g)) used.add(m[1])
    }
    expect([...used].filter((k) => !k.endsWith('.') && !(k in fz))).toEqual([])
    expect(used.size).toBeGreaterThan(40)
  })
  it('every role, DNS status and provider the server can name has a label', () => {
    for (const r of ['super_admin', 'tenant_admin', 'domain_admin', 'helpdesk', 'auditor', 'user'])
      expect(fz[`role.${r}`], r).toBeTruthy()
    for (const s of ['ok', 'missing', 'wrong', 'error']) expect(fz[`dns.status.${s}`]).toBeTruthy()
    for (const k of ['aliyun', 'dnspod', 'huaweicloud', 'cloudflare', 'rfc2136']) expect(fz[`dns.kinds.${k}`]).toBeTruthy()
  })
  it('no Chinese literals in console code', () => {
    const bad = sources().filter((f) => /[\u4e00-\u9fff]/.test(readFileSync(f, 'utf8')))
    expect(bad).toEqual([])
  })
})
