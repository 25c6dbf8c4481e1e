import { describe, expect, it } from 'vitest'
import zh from '../src/i18n/locales/zh-CN.json'
import en from '../src/i18n/locales/en.json'
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

describe('i18n catalogue parity', () => {
  it('zh-CN and en have exactly the same keys', () => {
    expect(Object.keys(fz).sort()).toEqual(Object.keys(fe).sort())
  })
  it('every message uses the same placeholders in both languages', () => {
    for (const k of Object.keys(fz)) expect([k, params(fz[k])]).toEqual([k, params(fe[k])])
  })
  it('no message is empty or uses vue-i18n special characters by accident', () => {
    for (const [k, v] of [...Object.entries(fz), ...Object.entries(fe)]) {
      expect(v.trim(), k).not.toBe('')
      expect(/[|@$]/.test(v), `${k}: ${v}`).toBe(false)
    }
  })
  it('every key used in the source exists in the catalogue', () => {
    const files: string[] = []
    const walk = (d: string) => {
      for (const f of readdirSync(d)) {
        const p = join(d, f)
        if (statSync(p).isDirectory()) {
          if (f !== 'admin') walk(p) // the admin console has its own catalogue (tests/admin.test.ts)
        } else if (/\.(ts|vue)$/.test(f)) files.push(p)
      }
    }
    walk(join(__dirname, '../src'))
    const used = new Set<string>()
    for (const f of files) {
      const src = readFileSync(f, 'utf8')
      for (const m of src.matchAll(/\bt\(\s*'([a-zA-Z]+\.[a-zA-Z.]+)'/g)) used.add(m[1])
    }
    const missing = [...used].filter((k) => !(k in fz))
    expect(missing).toEqual([])
    expect(used.size).toBeGreaterThan(50)
  })
  it('source code has no Chinese literals outside the catalogue', () => {
    const offenders: string[] = []
    const walk = (d: string) => {
      for (const f of readdirSync(d)) {
        const p = join(d, f)
        if (statSync(p).isDirectory()) {
          if (!p.includes('locales')) walk(p)
        } else if (/\.(ts|vue)$/.test(f)) {
          const lines = readFileSync(p, 'utf8').split('\n')
          lines.forEach((l, i) => {
            const code = l.replace(/\/\/.*$|\/\*.*?\*\/|<!--.*?-->/g, '')
            // Language names are shown in their own language on purpose.
            if (/[\u4e00-\u9fff]/.test(code) && !code.includes('简体中文')) offenders.push(`${p}:${i + 1}`)
          })
        }
      }
    }
    walk(join(__dirname, '../src'))
    expect(offenders).toEqual([])
  })
})
