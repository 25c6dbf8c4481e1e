/** vue-i18n setup: zh-CN is the default and the fallback; en is the second language. */
import { createI18n } from 'vue-i18n'
import zhCN from './locales/zh-CN.json'
import en from './locales/en.json'

export type Locale = 'zh-CN' | 'en'
export const LOCALES: Locale[] = ['zh-CN', 'en']

function initialLocale(): Locale {
  const saved = typeof localStorage !== 'undefined' ? localStorage.getItem('rm.locale') : null
  if (saved === 'en' || saved === 'zh-CN') return saved
  const nav = typeof navigator !== 'undefined' ? navigator.language : 'zh-CN'
  return nav && nav.toLowerCase().startsWith('en') ? 'en' : 'zh-CN'
}

export const i18n = createI18n({
  legacy: false,
  locale: initialLocale(),
  fallbackLocale: 'zh-CN',
  messages: { 'zh-CN': zhCN, en },
  missingWarn: false,
  fallbackWarn: false,
})

export function setLocale(l: Locale): void {
  i18n.global.locale.value = l
  localStorage.setItem('rm.locale', l)
  document.documentElement.lang = l
}

export const t = (key: string, params?: Record<string, unknown>): string =>
  params ? i18n.global.t(key, params) : i18n.global.t(key)
