/** Dates (shown in the user's zone, Asia/Shanghai by default via the browser) and addresses. */
import type { EmailAddress } from '../jmap/types'
import { i18n } from '../i18n'

function loc(): string {
  return i18n.global.locale.value
}

export function listDate(iso: string): string {
  const d = new Date(iso)
  const now = new Date()
  const sameDay = d.toDateString() === now.toDateString()
  if (sameDay) return d.toLocaleTimeString(loc(), { hour: '2-digit', minute: '2-digit' })
  const y = new Date(now)
  y.setDate(now.getDate() - 1)
  if (d.toDateString() === y.toDateString()) return i18n.global.t('time.yesterday')
  if (d.getFullYear() === now.getFullYear()) return d.toLocaleDateString(loc(), { month: 'short', day: 'numeric' })
  return d.toLocaleDateString(loc(), { year: 'numeric', month: 'numeric', day: 'numeric' })
}

export function fullDate(iso: string): string {
  return new Date(iso).toLocaleString(loc(), { dateStyle: 'medium', timeStyle: 'short' } as Intl.DateTimeFormatOptions)
}

export function addrName(a: EmailAddress | undefined | null): string {
  if (!a) return ''
  return a.name?.trim() || a.email
}

export function addrFull(a: EmailAddress): string {
  return a.name ? `${a.name} <${a.email}>` : a.email
}

export function addrList(list: EmailAddress[] | null | undefined): string {
  return (list ?? []).map(addrFull).join(', ')
}

export function fileSize(n: number): string {
  if (n < 1024) return n + ' B'
  if (n < 1024 * 1024) return (n / 1024).toFixed(n < 10240 ? 1 : 0) + ' KB'
  return (n / 1024 / 1024).toFixed(1) + ' MB'
}

export function initials(a: EmailAddress | undefined | null): string {
  const s = addrName(a)
  if (!s) return '?'
  const ch = Array.from(s.trim())[0] ?? '?'
  return ch.toUpperCase()
}

/** A stable hue per address for avatar colours. */
export function hue(s: string): number {
  let h = 0
  for (let i = 0; i < s.length; i++) h = (h * 31 + s.charCodeAt(i)) % 360
  return h
}

/** Parse "Name <a@b>, c@d" into addresses; returns invalid tokens separately. */
export function parseAddresses(input: string): { ok: EmailAddress[]; bad: string[] } {
  const ok: EmailAddress[] = []
  const bad: string[] = []
  const parts = input.split(/[,;，；]/).map((s) => s.trim()).filter(Boolean)
  for (const p of parts) {
    const m = p.match(/^(.*)<([^<>]+)>$/)
    const email = (m ? m[2] : p).trim()
    const name = m ? m[1].trim().replace(/^"|"$/g, '') : ''
    if (/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email)) ok.push({ name: name || null, email })
    else bad.push(p)
  }
  return { ok, bad }
}
