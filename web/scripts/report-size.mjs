// Report the gzipped size of the first screen (index.html's entry JS + CSS) and of each chunk.
// Fails (exit 1) when the first-screen JS exceeds the 300 KB gzip budget.
import { readFileSync, readdirSync } from 'node:fs'
import { gzipSync } from 'node:zlib'
import { fileURLToPath } from 'node:url'
import { join } from 'node:path'

const out = fileURLToPath(new URL('../../src/rongmail/static/web', import.meta.url))
const html = readFileSync(join(out, 'index.html'), 'utf8')
const refs = [...html.matchAll(/(?:src|href)="\/(assets\/[^"]+)"/g)].map((m) => m[1])
const gz = (f) => gzipSync(readFileSync(join(out, f)), { level: 9 }).length
const kb = (n) => (n / 1024).toFixed(1) + ' KB'
let js = 0
let css = 0
for (const r of refs) {
  if (r.endsWith('.js')) js += gz(r)
  else if (r.endsWith('.css')) css += gz(r)
}
console.log(`first screen: JS ${kb(js)} gzipped, CSS ${kb(css)} gzipped (budget: JS ≤ 300 KB)`)
for (const f of readdirSync(join(out, 'assets')).sort()) {
  if (!refs.includes('assets/' + f)) console.log(`  lazy chunk ${f}: ${kb(gz('assets/' + f))} gzipped`)
}
if (js > 300 * 1024) {
  console.error('first-screen JS is over budget')
  process.exit(1)
}
