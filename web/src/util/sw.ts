/** Registers /sw.js (app shell + recent mail cache for offline reading). */
import { ref } from 'vue'

export const updateReady = ref(false)

export function registerServiceWorker(): void {
  if (!('serviceWorker' in navigator) || import.meta.env.DEV) return
  window.addEventListener('load', () => {
    navigator.serviceWorker
      .register('/sw.js', { scope: '/' })
      .then((reg) => {
        reg.addEventListener('updatefound', () => {
          const w = reg.installing
          w?.addEventListener('statechange', () => {
            if (w.state === 'installed' && navigator.serviceWorker.controller) updateReady.value = true
          })
        })
      })
      .catch(() => {})
  })
}
