import { defineConfig } from 'vitest/config'
import vue from '@vitejs/plugin-vue'
import { fileURLToPath } from 'node:url'

// Built assets go to the Python package (gitignored) and are served by `rongmail serve`.
const outDir = fileURLToPath(new URL('../src/rongmail/static/web', import.meta.url))
// `npm run dev` proxies the API to a running server (rongmail serve, or `npm run mock`).
const backend = process.env.RONGMAIL_URL || 'http://127.0.0.1:8080'

export default defineConfig({
  plugins: [vue()],
  base: '/',
  build: {
    outDir,
    emptyOutDir: true,
    target: 'es2020',
    modulePreload: { polyfill: false },
    sourcemap: false,
    reportCompressedSize: false,
  },
  server: {
    proxy: {
      '/api': backend,
      '/jmap': { target: backend, ws: false },
      '/.well-known/jmap': backend,
    },
  },
  test: {
    environment: 'jsdom',
    include: ['tests/**/*.test.ts'],
  },
})
