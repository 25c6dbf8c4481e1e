/** Pick the displayable body of an Email (RFC 8621 htmlBody/textBody + bodyValues). */
import type { Email } from '../jmap/types'
import { escapeHtml, textToHtml } from './html'

export function bodyHtml(e: Email): string {
  const parts = e.htmlBody?.length ? e.htmlBody : e.textBody ?? []
  const out: string[] = []
  for (const p of parts) {
    const v = p.partId ? e.bodyValues?.[p.partId]?.value : undefined
    if (v === undefined) continue
    if (p.type === 'text/html') out.push(v)
    else if (p.type.startsWith('text/')) out.push(textToHtml(v))
  }
  return out.join('<hr>')
}

export function bodyText(e: Email): string {
  const parts = e.textBody?.length ? e.textBody : e.htmlBody ?? []
  const out: string[] = []
  for (const p of parts) {
    const v = p.partId ? e.bodyValues?.[p.partId]?.value : undefined
    if (v !== undefined && p.type === 'text/plain') out.push(v)
  }
  return out.join('\n')
}

/** Inline images referenced by cid: in the HTML (not listed as downloadable attachments). */
export function cidParts(e: Email) {
  const all = [...(e.attachments ?? []), ...(e.htmlBody ?? [])]
  return all.filter((p) => p.cid && p.blobId && p.type.startsWith('image/'))
}

export function visibleAttachments(e: Email) {
  const html = bodyHtml(e)
  return (e.attachments ?? []).filter((p) => {
    if (p.cid && p.disposition !== 'attachment' && html.includes('cid:' + p.cid.replace(/^<|>$/g, ''))) return false
    return true
  })
}

export { escapeHtml }
