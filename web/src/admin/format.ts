/** Display helpers: times in Asia/Shanghai (stored as UTC seconds), sizes. */
export function when(ts: number | null | undefined, locale: string): string {
  if (!ts) return '—'
  return new Intl.DateTimeFormat(locale, {
    timeZone: 'Asia/Shanghai', year: 'numeric', month: '2-digit', day: '2-digit',
    hour: '2-digit', minute: '2-digit', hour12: false,
  }).format(new Date(ts * 1000))
}

export function size(bytes: number): string {
  if (bytes >= 1 << 30) return (bytes / (1 << 30)).toFixed(1) + ' GB'
  if (bytes >= 1 << 20) return (bytes / (1 << 20)).toFixed(1) + ' MB'
  if (bytes >= 1 << 10) return (bytes / (1 << 10)).toFixed(0) + ' KB'
  return bytes + ' B'
}
