import { defineConfig, type Plugin } from 'vitest/config'
import vue from '@vitejs/plugin-vue'
import { fileURLToPath } from 'node:url'
import { readFileSync } from 'node:fs'
import { createHash } from 'node:crypto'

// Built assets go to the Python package (gitignored) and are served by `rongmail serve`.
const outDir = fileURLToPath(new URL('../src/rongmail/static/web', import.meta.url))
// `npm run dev` proxies the API to a running server (rongmail serve, or `npm run mock`).
const backend = process.env.RONGMAIL_URL || 'http://127.0.0.1:8080'

/** Emit /sw.js from sw/sw.js with the build's version and precache list filled in. */
function serviceWorker(): Plugin {
  return {
    name: 'rongmail-sw',
    apply: 'build',
    generateBundle(_, bundle) {
      const entry: string[] = []
      for (const [file, chunk] of Object.entries(bundle)) {
        // the webmail entry and the chunks it imports statically (vue etc. are shared with the
        // admin entry, so they sit in a common chunk); the admin console is not precached
        const isEntry = chunk.type === 'chunk' ? chunk.isEntry && chunk.name !== 'admin' : file.endsWith('.css') && file.includes('index-')
        if (isEntry) entry.push('/' + file)
        if (isEntry && chunk.type === 'chunk') entry.push(...chunk.imports.map((f) => '/' + f))
      }
      const precache = ['/index.html', '/manifest.webmanifest', '/icons/icon.svg', ...[...new Set(entry)].sort()]
      const version = createHash('sha256').update(Object.keys(bundle).sort().join('\n')).digest('hex').slice(0, 12)
      const src = readFileSync(fileURLToPath(new URL('./sw/sw.js', import.meta.url)), 'utf8')
        .replace('__RM_VERSION__', version)
        .replace('__RM_PRECACHE__', JSON.stringify(precache))
      this.emitFile({ type: 'asset', fileName: 'sw.js', source: src })
      // The output lives inside the Python package: make sure git never picks it up.
      this.emitFile({ type: 'asset', fileName: '.gitignore', source: '# build output of web/ (npm run build)\n*\n' })
    },
  }
}

export default defineConfig({
  plugins: [vue(), serviceWorker()],
  base: '/',
  build: {
    outDir,
    emptyOutDir: true,
    target: 'es2020',
    modulePreload: { polyfill: false },
    sourcemap: false,
    reportCompressedSize: false,
    // two entries: the webmail (index.html) and the admin console (admin.html, issue 7)
    rollupOptions: { input: { index: 'index.html', admin: 'admin.html' } },
  },
  server: {
    proxy: {
      '/api': backend,
      '/jmap': backend,
      '/.well-known/jmap': backend,
    },
  },
  test: {
    environment: 'jsdom',
    include: ['tests/**/*.test.ts'],
    // `make test` runs these beside the Python suite on a loaded machine: jsdom start-up and
    // the first test of a file can take seconds there.
    testTimeout: 30_000,
  },
})
