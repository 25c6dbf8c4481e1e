import { describe, expect, it } from 'vitest'
import { cspFor, linkMismatch, prepareMailHtml, textToHtml } from '../src/util/html'

const hostile = `
<script>window.pwned=1</script>
<img src="x" onerror="window.pwned=1">
<img data-rm-src="https://tracker.example/p.gif">
<img src="https://tracker.example/direct.gif">
<a href="javascript:alert(1)">js</a>
<a href="https://evil.example/">https://bank.example.com/login</a>
<div style="background:url(https://tracker.example/bg.png)">x</div>
<form action="https://evil.example"><input name=a></form>
<meta http-equiv="refresh" content="0;url=https://evil.example">
<svg><script>alert(1)</script></svg>
<iframe src="https://evil.example"></iframe>
<style>@import url(https://evil.example/a.css); body{background:url(https://t.example/b.png)}</style>
`

describe('prepareMailHtml', () => {
  const out = prepareMailHtml(hostile, { allowRemoteImages: false }).html
  it('puts a strict CSP meta first in <head>', () => {
    expect(out.startsWith('<!doctype html><html><head><meta http-equiv="Content-Security-Policy"')).toBe(true)
    expect(out).toContain("script-src 'none'")
    expect(out).toContain('img-src data:;')
  })
  it('removes scripts, handlers, forms, frames, meta refresh and svg', () => {
    const body = out.slice(out.indexOf('<body>'))
    expect(body).not.toMatch(/<script|onerror|<form|<iframe|refresh|<svg|javascript:/i)
  })
  it('keeps remote images blocked until consent', () => {
    expect(out).not.toMatch(/\ssrc="https?:/)
    expect(out).not.toContain('src="x"')
    expect(out).not.toContain('tracker.example/bg.png')
    expect(out).not.toContain('@import')
    const allowed = prepareMailHtml(hostile, { allowRemoteImages: true })
    expect(allowed.remoteImages).toBe(2)
    expect(allowed.html).toContain('src="https://tracker.example/p.gif"')
    expect(allowed.html).toContain('img-src data: https: http:')
  })
  it('opens links safely and shows their real target', () => {
    expect(out).toContain('href="https://evil.example/"')
    expect(out).toMatch(/rel="noopener noreferrer nofollow"/)
    expect(out).toContain('title="https://evil.example/"')
    expect(out).toContain('target="_blank"')
    expect(linkMismatch('https://bank.example.com/login', 'https://evil.example/')).toBe(true)
    expect(linkMismatch('点击这里', 'https://evil.example/')).toBe(false)
    expect(linkMismatch('www.example.com', 'https://example.com/x')).toBe(false)
  })
  it('CSP without consent allows data: images only', () => {
    expect(cspFor(false)).toMatch(/default-src 'none'/)
  })
  it('escapes plain text', () => {
    expect(textToHtml('<b>发票</b> https://a.example/x')).toContain('&lt;b&gt;发票&lt;/b&gt; <a href="https://a.example/x">')
  })
})
