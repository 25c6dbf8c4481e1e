/** User preferences kept in localStorage (per browser). */
import { reactive, watch } from 'vue'

export type Theme = 'system' | 'light' | 'dark'

function load<T>(key: string, dflt: T): T {
  try {
    const v = localStorage.getItem('rm.' + key)
    return v === null ? dflt : (JSON.parse(v) as T)
  } catch {
    return dflt
  }
}

export const prefs = reactive({
  theme: load<Theme>('theme', 'system'),
  conversation: load<boolean>('conversation', true),
  swipeLeft: load<'archive' | 'delete'>('swipeLeft', 'archive'),
  compact: load<boolean>('compact', false),
  /** Lower-case sender addresses whose remote images are shown without asking. */
  allowedSenders: load<string[]>('allowedSenders', []),
})

for (const key of Object.keys(prefs) as (keyof typeof prefs)[]) {
  watch(
    () => prefs[key],
    (v) => localStorage.setItem('rm.' + key, JSON.stringify(v)),
    { deep: true },
  )
}

export function applyTheme(): void {
  const root = document.documentElement
  const dark =
    prefs.theme === 'dark' ||
    (prefs.theme === 'system' && window.matchMedia?.('(prefers-color-scheme: dark)').matches)
  root.dataset.theme = dark ? 'dark' : 'light'
  document.querySelector('meta[name="theme-color"]')?.setAttribute('content', dark ? '#15181d' : '#c8102e')
}

export function isSenderAllowed(email: string | undefined | null): boolean {
  return !!email && prefs.allowedSenders.includes(email.toLowerCase())
}

export function allowSender(email: string): void {
  const e = email.toLowerCase()
  if (!prefs.allowedSenders.includes(e)) prefs.allowedSenders.push(e)
}
