/** The console's own catalogue (zh-CN first, en second); same keys in both files. */
import { createI18n } from 'vue-i18n'
import zhCN from './locales/zh-CN.json'
import en from './locales/en.json'

export type Locale = 'zh-CN' | 'en'

function initial(): Locale {
  const saved = typeof localStorage !== 'undefined' ? localStorage.getItem('rm.locale') : null
  if (saved === 'en' || saved === 'zh-CN') return saved
  return typeof navigator !== 'undefined' && navigator.language.toLowerCase().startsWith('en') ? 'en' : 'zh-CN'
}

export const i18n = createI18n({
  legacy: false,
  locale: initial(),
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
