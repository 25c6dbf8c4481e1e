/**
 * Preparing mail HTML for the sandboxed iframe. The server already sanitised the HTML (nh3);
 * this is defence in depth and presentation:
 *  - parse with DOMParser (an inert document: nothing loads, nothing runs);
 *  - drop active or navigating elements the sanitiser should have removed anyway;
 *  - remote images keep their URL in data-rm-src (the server rewrote them) until consent;
 *    any src/srcset/background that still points off-box is moved there too;
 *  - cid: images are replaced by data: URLs the caller resolved from attachments;
 *  - every link gets target=_blank rel="noopener noreferrer" and a title showing its real target;
 *  - the document gets a strict CSP <meta> as the first child of <head>.
 */

const DROP = 'script,noscript,iframe,frame,frameset,object,embed,applet,base,meta,link,form,input,button,select,textarea,portal,template,svg,math'
const URL_ATTRS = ['href', 'src', 'action', 'formaction', 'background', 'poster', 'xlink:href', 'srcset', 'lowsrc', 'dynsrc', 'ping']

export function cspFor(allowRemoteImages: boolean): string {
  const img = allowRemoteImages ? "data: https: http:" : 'data:'
  return [
    "default-src 'none'",
    `img-src ${img}`,
    "style-src 'unsafe-inline'",
    'font-src data:',
    "script-src 'none'",
    "object-src 'none'",
    "frame-src 'none'",
    "form-action 'none'",
    "base-uri 'none'",
  ].join('; ')
}

function isRemote(url: string): boolean {
  return /^\s*(https?:)?\/\//i.test(url)
}

function safeHref(url: string): boolean {
  return /^\s*(https?:|mailto:|tel:)/i.test(url)
}

export interface PreparedHtml {
  html: string
  remoteImages: number
}

export function prepareMailHtml(
  raw: string,
  opts: { allowRemoteImages: boolean; cid?: Record<string, string>; dark?: boolean },
): PreparedHtml {
  const doc = new DOMParser().parseFromString(raw, 'text/html')
  doc.querySelectorAll(DROP).forEach((n) => n.remove())
  let remoteImages = 0
  for (const el of Array.from(doc.body.querySelectorAll('*'))) {
    for (const attr of Array.from(el.attributes)) {
      const name = attr.name.toLowerCase()
      if (name.startsWith('on')) el.removeAttribute(attr.name)
      else if (URL_ATTRS.includes(name) && /^\s*(javascript|vbscript|data:text|data:application)/i.test(attr.value)) {
        el.removeAttribute(attr.name)
      }
    }
    const style = el.getAttribute('style')
    if (style && /url\s*\(|expression\s*\(|behavior\s*:|-moz-binding/i.test(style)) {
      // Background images in inline styles would bypass the consent button: drop them.
      el.setAttribute('style', style.replace(/url\s*\([^)]*\)|expression\s*\([^)]*\)|behavior\s*:[^;]*|-moz-binding\s*:[^;]*/gi, 'none'))
    }
    if (el.hasAttribute('background')) el.removeAttribute('background')
  }
  for (const img of Array.from(doc.querySelectorAll('img'))) {
    const src = img.getAttribute('src') || ''
    if (src && isRemote(src)) {
      img.setAttribute('data-rm-src', src)
      img.removeAttribute('src')
    }
    else if (src && !/^\s*(data:image\/|cid:)/i.test(src)) img.removeAttribute('src')
    if (img.hasAttribute('srcset')) img.removeAttribute('srcset')
    if (/^\s*cid:/i.test(src)) {
      const id = src.replace(/^\s*cid:/i, '').replace(/^<|>$/g, '')
      const data = opts.cid?.[id]
      if (data) img.setAttribute('src', data)
      else img.removeAttribute('src')
    }
    const pending = img.getAttribute('data-rm-src')
    if (pending) {
      remoteImages++
      if (opts.allowRemoteImages && isRemote(pending)) {
        img.setAttribute('src', pending)
        img.setAttribute('referrerpolicy', 'no-referrer')
      }
    }
  }
  for (const a of Array.from(doc.querySelectorAll('a'))) {
    const href = a.getAttribute('href')
    if (!href || !safeHref(href)) {
      a.removeAttribute('href')
      continue
    }
    a.setAttribute('target', '_blank')
    a.setAttribute('rel', 'noopener noreferrer nofollow')
    a.setAttribute('title', href)
  }
  doc.querySelectorAll('style').forEach((s) => {
    // @import and url() in style sheets would load remote resources (CSP blocks it too).
    s.textContent = (s.textContent || '').replace(/@import[^;]*;?/gi, '').replace(/url\s*\([^)]*\)/gi, 'none')
  })
  const styles = Array.from(doc.querySelectorAll('style')).map((s) => s.outerHTML).join('')
  const base = `<style>
html{color-scheme:light}
body{margin:0;padding:8px 2px;font:15px/1.6 -apple-system,"PingFang SC","Microsoft YaHei","WenQuanYi Micro Hei",system-ui,sans-serif;color:#1d1f23;background:#fff;word-wrap:break-word;overflow-wrap:anywhere}
img{max-width:100%;height:auto}
img:not([src]){display:inline-block;min-width:16px;min-height:16px;background:#eef0f3;outline:1px dashed #c4c8ce}
table{max-width:100%}
pre{white-space:pre-wrap}
blockquote{margin:0 0 0 .5em;padding-left:.75em;border-left:3px solid #d0d4da;color:#4b5058}
a{color:#0b57d0}
</style>`
  const html =
    '<!doctype html><html><head>' +
    `<meta http-equiv="Content-Security-Policy" content="${cspFor(opts.allowRemoteImages)}">` +
    '<meta name="referrer" content="no-referrer">' +
    '<meta charset="utf-8">' +
    base +
    styles +
    '</head><body>' +
    doc.body.innerHTML +
    '</body></html>'
  return { html, remoteImages }
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!)
}

/** Plain text body -> safe HTML (escaped, links made clickable, quotes indented). */
export function textToHtml(text: string): string {
  const esc = escapeHtml(text)
  const linked = esc.replace(/\bhttps?:\/\/[^\s<>"']+/g, (u) => `<a href="${u}">${u}</a>`)
  return `<div style="white-space:pre-wrap">${linked}</div>`
}

/** HTML -> readable plain text (for plain-text replies and the text/plain alternative). */
export function htmlToText(html: string): string {
  const doc = new DOMParser().parseFromString(html, 'text/html')
  doc.querySelectorAll('script,style').forEach((n) => n.remove())
  doc.querySelectorAll('br').forEach((n) => n.replaceWith('\n'))
  doc.querySelectorAll('p,div,li,blockquote,h1,h2,h3,h4,tr').forEach((n) => n.append('\n'))
  doc.querySelectorAll('li').forEach((n) => n.prepend('• '))
  return (doc.body.textContent || '').replace(/\n{3,}/g, '\n\n').trim()
}

function hostOf(u: string): string {
  try {
    return new URL(u).host.toLowerCase().replace(/^www\./, '')
  } catch {
    return ''
  }
}

/** True when a link's visible text looks like a URL/domain that differs from its real target. */
export function linkMismatch(text: string, href: string): boolean {
  const m = text.trim().match(/^(https?:\/\/)?([a-z0-9-]+(\.[a-z0-9-]+)+)(\/\S*)?$/i)
  if (!m || !/^https?:/i.test(href)) return false
  return m[2].toLowerCase().replace(/^www\./, '') !== hostOf(href)
}
