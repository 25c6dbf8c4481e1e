#!/usr/bin/env node
/**
 * Development mock of the endpoints the webmail needs (NOT the real server, no security):
 * login/me/logout, the JMAP session, a JMAP API subset, upload/download and EventSource push.
 * It serves the built app from ../../src/rongmail/static/web as well.
 *
 *   npm run build && npm run mock        # http://127.0.0.1:8080  user: demo@rongmail.cn / demo
 *   MOCK_COUNT=10000 npm run mock        # size of the inbox (default 10000)
 *
 * Also the executable reference of the wire contract for the server team (see README.md).
 */
import http from 'node:http'
import { readFileSync, existsSync, statSync } from 'node:fs'
import { join, extname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { randomBytes } from 'node:crypto'

const PORT = Number(process.env.PORT || 8080)
const STATIC = fileURLToPath(new URL('../../src/rongmail/static/web', import.meta.url))
const COUNT = Number(process.env.MOCK_COUNT || 10000)
const ACCOUNT = 'a1'
const ME = { email: 'demo@rongmail.cn', name: '王小明' }
const sessions = new Map() // cookie -> csrf

// ------------------------------------------------------------------ data
let modseq = 1
const changes = [] // {modseq, id, kind: 'created'|'updated'|'destroyed'}
const mailboxes = [
  ['inbox', '收件箱', 'inbox'], ['drafts', '草稿箱', 'drafts'], ['sent', '已发送', 'sent'],
  ['archive', '归档', 'archive'], ['junk', '垃圾邮件', 'junk'], ['trash', '已删除', 'trash'],
  ['projects', '项目', null], ['finance', '财务', null],
].map(([id, name, role], i) => ({ id, name, role, parentId: null, sortOrder: i, isSubscribed: true }))
mailboxes.find((m) => m.id === 'finance').parentId = 'projects'

const blobs = new Map() // blobId -> {type, data: Buffer}
const emails = new Map()
const people = [
  ['张伟', 'zhang.wei@chengdu-tech.cn'], ['李娜', 'li.na@tianfu.com'], ['刘洋', 'liu.yang@example.com'],
  ['陈静', 'chen.jing@shudao.cn'], ['Alice Wong', 'alice@partner.hk'], ['杨帆', 'yang.fan@rongmail.cn'],
  ['财务部', 'finance@rongmail.cn'], ['IT 服务台', 'it@rongmail.cn'],
]
const topics = ['季度报告', '发票 2026-11', '会议纪要：产品评审', '出差申请', '合同草案', '团队聚餐', '服务器维护通知', '新员工入职', 'Project kickoff', '报销单审批', '客户反馈汇总', '年终总结安排']
const previews = ['请查收附件中的文件，有问题随时联系。', '明天下午三点在三楼会议室开会，请准时参加。', '您好，附件是本月的增值税发票，请注意查收。', 'Thanks for the update, see my comments inline.', '系统将于周六凌晨进行维护，届时邮件服务可能短暂中断。']

function pdfBlob() {
  const pdf = `%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj 2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj 3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 300 144]/Contents 4 0 R/Resources<</Font<</F1 5 0 R>>>>>>endobj 4 0 obj<</Length 44>>stream\nBT /F1 24 Tf 40 70 Td (Invoice 2026-11) Tj ET\nendstream endobj 5 0 obj<</Type/Font/Subtype/Type1/BaseFont/Helvetica>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF`
  return Buffer.from(pdf)
}
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAABAAAAAQCAYAAAAf8/9hAAAAJ0lEQVR42mP8z8DwnwEJMDIyMjAxUBkwDhowasCoAaMGjBowasBQAAA5LwQR1hnyRAAAAABJRU5ErkJggg==', 'base64')
blobs.set('b-pdf', { type: 'application/pdf', data: pdfBlob() })
blobs.set('b-png', { type: 'image/png', data: PNG })

function addEmail(e) {
  const id = e.id || 'e' + (emails.size + 1) + '-' + randomBytes(2).toString('hex')
  const email = {
    id, blobId: 'raw-' + id, threadId: e.threadId || 't-' + id, mailboxIds: e.mailboxIds, keywords: e.keywords || {},
    size: e.size || 2048, receivedAt: e.receivedAt || new Date().toISOString().replace(/\.\d+Z/, 'Z'),
    from: e.from, to: e.to || [{ name: ME.name, email: ME.email }], cc: e.cc || null, bcc: e.bcc || null, replyTo: null, sender: null,
    subject: e.subject, sentAt: e.receivedAt, preview: e.preview || '', hasAttachment: !!(e.attachments && e.attachments.length),
    messageId: ['<' + id + '@mock>'], inReplyTo: e.inReplyTo || null, references: e.references || null,
    bodyValues: e.bodyValues, htmlBody: e.htmlBody, textBody: e.textBody, attachments: e.attachments || [],
  }
  emails.set(id, email)
  return email
}

const now = Date.now()
for (let i = 0; i < COUNT; i++) {
  const [name, addr] = people[i % people.length]
  const topic = topics[(i * 7) % topics.length]
  const pv = previews[i % previews.length]
  const withAtt = i % 9 === 0
  addEmail({
    id: 'm' + i,
    threadId: 't' + Math.floor(i / 3),
    mailboxIds: { [i % 50 === 7 ? 'archive' : 'inbox']: true },
    keywords: i < 6 ? {} : i % 11 === 0 ? { $flagged: true } : i % 4 === 0 ? {} : { $seen: true },
    receivedAt: new Date(now - i * 37 * 60_000).toISOString().replace(/\.\d+Z/, 'Z'),
    from: [{ name, email: addr }],
    subject: (i % 3 ? '回复: ' : '') + topic,
    preview: pv,
    bodyValues: { t: { value: `${pv}\n\n此致\n${name}\nhttps://www.rongmail.cn/` } },
    textBody: [{ partId: 't', blobId: null, size: 100, name: null, type: 'text/plain' }],
    htmlBody: [{ partId: 't', blobId: null, size: 100, name: null, type: 'text/plain' }],
    attachments: withAtt ? [{ partId: 'a', blobId: 'b-pdf', size: 620, name: '发票-2026-11.pdf', type: 'application/pdf', disposition: 'attachment', cid: null }] : [],
  })
}
// An HTML newsletter with remote images, inline cid image and hostile bits.
addEmail({
  id: 'html1', threadId: 'th-html', mailboxIds: { inbox: true }, keywords: {},
  receivedAt: new Date(now + 60_000).toISOString().replace(/\.\d+Z/, 'Z'),
  from: [{ name: '蜀道科技', email: 'news@shudao.cn' }], subject: '【蜀道科技】11 月产品更新与发票说明',
  preview: '本月更新：移动端体验全面升级…',
  bodyValues: { h: { value: `<div style="font-family:sans-serif;max-width:600px"><h2 style="color:#c8102e">11 月产品更新</h2>
<p><img data-rm-src="https://images.example.com/banner.png" alt="横幅" width="560" height="120"></p>
<p>尊敬的客户，您好！本月我们对移动端体验进行了全面升级。</p>
<p><img src="cid:logo@mock" alt="logo" width="32" height="32"> 内联图片（cid）。</p>
<p>查看详情：<a href="https://www.shudao.cn/updates">www.shudao.cn/updates</a></p>
<p>可疑链接：<a href="https://evil.example/phish">https://bank.example.com/login</a></p>
<table border="1" cellpadding="6" style="border-collapse:collapse"><tr><th>项目</th><th>金额</th></tr><tr><td>服务费</td><td>¥ 12,800.00</td></tr></table>
<p onclick="alert(1)">此段落带有事件处理器（服务器应已清除）。</p></div>` } },
  htmlBody: [{ partId: 'h', blobId: null, size: 900, name: null, type: 'text/html' }],
  textBody: [],
  attachments: [
    { partId: 'i', blobId: 'b-png', size: PNG.length, name: 'logo.png', type: 'image/png', disposition: 'inline', cid: '<logo@mock>' },
    { partId: 'p', blobId: 'b-pdf', size: 620, name: '发票.pdf', type: 'application/pdf', disposition: 'attachment', cid: null },
    { partId: 'q', blobId: 'b-png', size: PNG.length, name: '截图.png', type: 'image/png', disposition: 'attachment', cid: null },
  ],
})

// Hostile HTML samples in Junk (the real server sanitises; the mock does NOT, to exercise the
// client-side defences: sandboxed iframe + CSP + DOMParser clean-up).
const HOSTILE = [
  '<script>parent.__xss=1;alert(1)</script>',
  '<img src=x onerror="parent.__xss=1">',
  '<svg onload="parent.__xss=1"><circle r=10></circle></svg>',
  '<a href="javascript:parent.__xss=1">click</a>',
  '<iframe src="javascript:parent.__xss=1"></iframe>',
  '<meta http-equiv="refresh" content="0;url=https://evil.example/">',
  '<form action="https://evil.example/"><input name=p><button>go</button></form>',
  '<div style="background:url(https://evil.example/bg.png)">bg</div>',
  '<style>@import url(https://evil.example/x.css);body{background:url(https://evil.example/b.png)}</style>',
  '<object data="https://evil.example/x.swf"></object><embed src="https://evil.example/y">',
  '<img src="https://evil.example/direct.png"><img srcset="https://evil.example/s.png 1x">',
  '<base href="https://evil.example/"><a href="/rel">rel</a>',
  '<math><mtext><table><mglyph><style><img src=x onerror=parent.__xss=1></style></mglyph></table></mtext></math>',
  '<details open ontoggle="parent.__xss=1">x</details>',
  '<video><source onerror="parent.__xss=1"></video><audio src="https://evil.example/a.mp3" autoplay></audio>',
  '<a href="data:text/html,<script>parent.__xss=1</script>">data</a>',
  '<link rel="stylesheet" href="https://evil.example/l.css"><link rel="prefetch" href="https://evil.example/p">',
  '<div style="width:expression(parent.__xss=1)">ie</div>',
]
HOSTILE.forEach((h, i) => addEmail({
  id: 'xss' + i, mailboxIds: { junk: true }, keywords: {}, receivedAt: new Date(now - i * 1000).toISOString().replace(/\.\d+Z/, 'Z'),
  from: [{ name: 'Mallory', email: 'mallory@evil.example' }], subject: 'XSS #' + i, preview: h.slice(0, 60),
  bodyValues: { h: { value: '<p>hostile ' + i + '</p>' + h } }, htmlBody: [{ partId: 'h', blobId: null, size: h.length, name: null, type: 'text/html' }], textBody: [],
}))

function state() {
  return String(modseq)
}
function touch(id, kind) {
  modseq++
  changes.push({ modseq, id, kind })
  notify()
}

// ------------------------------------------------------------------ JMAP methods
function mailboxView(m) {
  let total = 0, unread = 0
  const threads = new Set(), unreadThreads = new Set()
  for (const e of emails.values()) {
    if (!e.mailboxIds[m.id]) continue
    total++
    threads.add(e.threadId)
    if (!e.keywords.$seen) { unread++; unreadThreads.add(e.threadId) }
  }
  return { ...m, totalEmails: total, unreadEmails: unread, totalThreads: threads.size, unreadThreads: unreadThreads.size,
    myRights: { mayReadItems: true, mayAddItems: true, mayRemoveItems: true, maySetSeen: true, maySetKeywords: true, mayCreateChild: true, mayRename: true, mayDelete: !m.role, maySubmit: true } }
}

let sortedCache = null
function sorted() {
  if (!sortedCache) sortedCache = [...emails.values()].sort((a, b) => b.receivedAt.localeCompare(a.receivedAt))
  return sortedCache
}
function matches(e, f) {
  if (!f) return true
  if (f.operator) {
    const r = f.conditions.map((c) => matches(e, c))
    return f.operator === 'AND' ? r.every(Boolean) : f.operator === 'OR' ? r.some(Boolean) : !r.some(Boolean)
  }
  if (f.inMailbox && !e.mailboxIds[f.inMailbox]) return false
  if (f.hasAttachment !== undefined && e.hasAttachment !== f.hasAttachment) return false
  if (f.after && e.receivedAt < f.after) return false
  if (f.before && e.receivedAt >= f.before) return false
  const addr = (l) => (l || []).map((a) => (a.name || '') + ' ' + a.email).join(' ').toLowerCase()
  if (f.from && !addr(e.from).includes(f.from.toLowerCase())) return false
  if (f.text) {
    const hay = [e.subject, e.preview, addr(e.from), addr(e.to), ...Object.values(e.bodyValues || {}).map((v) => v.value)].join(' ').toLowerCase()
    if (!hay.includes(f.text.toLowerCase())) return false
  }
  return true
}

function pick(e, props) {
  if (!props) return e
  const o = { id: e.id }
  for (const p of props) o[p] = e[p] === undefined ? null : e[p]
  return o
}

function applyPatch(e, patch) {
  for (const [k, v] of Object.entries(patch)) {
    if (k.includes('/')) {
      const [root, key] = k.split('/')
      const obj = { ...e[root] }
      if (v === null) delete obj[key]
      else obj[key] = v
      e[root] = obj
    } else e[k] = v
  }
}

function createEmail(c) {
  const bodyValues = c.bodyValues || {}
  const text = bodyValues.text?.value || ''
  const preview = (text || (bodyValues.html?.value || '').replace(/<[^>]+>/g, ' ')).replace(/\s+/g, ' ').slice(0, 120)
  const parts = (list) => (list || []).map((p) => ({ partId: p.partId, blobId: null, size: bodyValues[p.partId]?.value.length || 0, name: null, type: p.type }))
  return addEmail({
    mailboxIds: c.mailboxIds, keywords: c.keywords, from: c.from, to: c.to, cc: c.cc, bcc: c.bcc, subject: c.subject,
    preview, bodyValues, textBody: parts(c.textBody), htmlBody: parts(c.htmlBody),
    inReplyTo: c.inReplyTo, references: c.references,
    threadId: c.inReplyTo ? [...emails.values()].find((x) => x.messageId?.[0] === '<' + c.inReplyTo[0] + '>' || x.messageId?.[0] === c.inReplyTo[0])?.threadId : undefined,
    attachments: (c.attachments || []).map((a) => ({ partId: null, blobId: a.blobId, size: blobs.get(a.blobId)?.data.length || 0, name: a.name, type: a.type, disposition: 'attachment', cid: null })),
  })
}

const methods = {
  'Mailbox/get': (a) => ({ accountId: ACCOUNT, state: state(), list: mailboxes.map(mailboxView), notFound: [] }),
  'Identity/get': () => ({ accountId: ACCOUNT, state: '1', list: [identity], notFound: [] }),
  'Identity/set': (a) => { for (const [id, p] of Object.entries(a.update || {})) Object.assign(identity, p); return { accountId: ACCOUNT, oldState: '1', newState: '1', updated: Object.fromEntries(Object.keys(a.update || {}).map((k) => [k, null])) } },
  'Email/query': (a) => {
    let list = sorted().filter((e) => matches(e, a.filter))
    if (a.collapseThreads) {
      const seen = new Set()
      list = list.filter((e) => (seen.has(e.threadId) ? false : (seen.add(e.threadId), true)))
    }
    const pos = a.position || 0
    const ids = list.slice(pos, pos + (a.limit || 50)).map((e) => e.id)
    return { accountId: ACCOUNT, queryState: state(), canCalculateChanges: false, position: pos, ids, total: a.calculateTotal ? list.length : undefined }
  },
  'Email/get': (a) => {
    const ids = a.ids || [...emails.keys()].slice(0, 100)
    const list = [], notFound = []
    for (const id of ids) {
      const e = emails.get(id)
      if (!e) { notFound.push(id); continue }
      const o = pick(e, a.properties)
      if (o.bodyValues && !(a.fetchAllBodyValues || a.fetchHTMLBodyValues || a.fetchTextBodyValues)) o.bodyValues = {}
      list.push(o)
    }
    return { accountId: ACCOUNT, state: state(), list, notFound }
  },
  'Email/changes': (a) => {
    const since = Number(a.sinceState)
    if (!(since >= 1)) throw { type: 'cannotCalculateChanges' }
    const created = new Set(), updated = new Set(), destroyed = new Set()
    for (const c of changes) {
      if (c.modseq <= since) continue
      if (c.kind === 'created') created.add(c.id)
      else if (c.kind === 'destroyed') { created.delete(c.id); updated.delete(c.id); destroyed.add(c.id) }
      else if (!created.has(c.id)) updated.add(c.id)
    }
    return { accountId: ACCOUNT, oldState: a.sinceState, newState: state(), hasMoreChanges: false, created: [...created], updated: [...updated], destroyed: [...destroyed] }
  },
  'Thread/get': (a) => {
    const list = []
    for (const id of a.ids) {
      const ids = sorted().filter((e) => e.threadId === id).map((e) => e.id).reverse()
      if (ids.length) list.push({ id, emailIds: ids })
    }
    return { accountId: ACCOUNT, state: state(), list, notFound: [] }
  },
  'Email/set': (a, ctx) => {
    const oldState = state()
    const out = { accountId: ACCOUNT, oldState, created: {}, updated: {}, destroyed: [], notCreated: {}, notUpdated: {}, notDestroyed: {} }
    for (const [cid, c] of Object.entries(a.create || {})) {
      const e = createEmail(c)
      ctx.createdIds[cid] = e.id
      out.created[cid] = { id: e.id, blobId: e.blobId, threadId: e.threadId, size: e.size }
      touch(e.id, 'created')
    }
    for (const [id0, patch] of Object.entries(a.update || {})) {
      const id = id0.startsWith('#') ? ctx.createdIds[id0.slice(1)] : id0
      const e = emails.get(id)
      if (!e) { out.notUpdated[id] = { type: 'notFound' }; continue }
      applyPatch(e, patch)
      out.updated[id] = null
      touch(id, 'updated')
    }
    for (const id of a.destroy || []) {
      if (!emails.delete(id)) { out.notDestroyed[id] = { type: 'notFound' }; continue }
      out.destroyed.push(id)
      touch(id, 'destroyed')
    }
    sortedCache = null
    out.newState = state()
    return out
  },
  'EmailSubmission/set': (a, ctx, calls) => {
    const out = { accountId: ACCOUNT, oldState: '1', newState: '2', created: {}, notCreated: {} }
    const subIds = {}
    for (const [cid, s] of Object.entries(a.create || {})) {
      const emailId = s.emailId.startsWith('#') ? ctx.createdIds[s.emailId.slice(1)] : s.emailId
      const e = emails.get(emailId)
      if (!e) { out.notCreated[cid] = { type: 'notFound' }; continue }
      const hold = s.envelope?.mailFrom?.parameters?.HOLDUNTIL
      out.created[cid] = { id: 'sub-' + cid + '-' + Date.now(), sendAt: hold || new Date().toISOString(), undoStatus: hold ? 'pending' : 'final' }
      subIds[cid] = emailId
      // Loop back mail addressed to ourselves so the test flow "reply arrives" is visible.
      const all = [...(e.to || []), ...(e.cc || []), ...(e.bcc || [])]
      if (all.some((x) => x.email === ME.email)) {
        setTimeout(() => {
          const copy = addEmail({ ...e, id: undefined, mailboxIds: { inbox: true }, keywords: {}, receivedAt: new Date().toISOString().replace(/\.\d+Z/, 'Z'), threadId: e.threadId })
          sortedCache = null
          touch(copy.id, 'created')
        }, 800)
      }
    }
    const res = [['EmailSubmission/set', out]]
    if (a.onSuccessUpdateEmail) {
      const update = {}
      for (const [ref, patch] of Object.entries(a.onSuccessUpdateEmail)) {
        const id = subIds[ref.slice(1)]
        if (id) update[id] = patch
      }
      res.push(['Email/set', methods['Email/set']({ accountId: ACCOUNT, update }, ctx)])
    }
    return res
  },
}
const identity = { id: 'id1', name: ME.name, email: ME.email, replyTo: null, bcc: null, textSignature: '王小明\n蓉邮科技 · 成都', htmlSignature: '', mayDelete: false }

function resolveRef(ref, responses) {
  const r = responses.find((x) => x[2] === ref.resultOf && x[0] === ref.name)
  if (!r) throw { type: 'invalidResultReference' }
  const parts = ref.path.replace(/^\//, '').split('/')
  const walk = (v, i) => {
    if (i === parts.length) return v
    if (parts[i] === '*') return v.flatMap((x) => { const y = walk(x, i + 1); return Array.isArray(y) ? y : [y] })
    if (v == null || !(parts[i] in v)) throw { type: 'invalidResultReference' }
    return walk(v[parts[i]], i + 1)
  }
  return walk(r[1], 0)
}

function api(body) {
  const responses = []
  const ctx = { createdIds: {} }
  for (const [name, args0, callId] of body.methodCalls) {
    try {
      const args = {}
      for (const [k, v] of Object.entries(args0)) {
        if (k.startsWith('#')) args[k.slice(1)] = resolveRef(v, responses)
        else args[k] = v
      }
      const fn = methods[name]
      if (!fn) throw { type: 'unknownMethod' }
      const r = fn(args, ctx)
      if (Array.isArray(r)) for (const [n, a] of r) responses.push([n, a, callId])
      else responses.push([name, r, callId])
    } catch (e) {
      responses.push(['error', { type: e.type || 'serverFail', description: String(e.message || '') }, callId])
    }
  }
  return { methodResponses: responses, sessionState: 'sess1', createdIds: ctx.createdIds }
}

// ------------------------------------------------------------------ push
const streams = new Set()
let pending = null
function notify() {
  if (pending) return
  pending = setTimeout(() => {
    pending = null
    const data = JSON.stringify({ '@type': 'StateChange', changed: { [ACCOUNT]: { Email: state(), Mailbox: state(), Thread: state() } } })
    for (const s of streams) s.write(`event: state\ndata: ${data}\n\n`)
  }, 50)
}
setInterval(() => { for (const s of streams) s.write(': ping\n\n') }, 30_000)

// A new mail arrives every MOCK_ARRIVAL_MS (default off) to demo live updates.
if (process.env.MOCK_ARRIVAL_MS) {
  setInterval(() => {
    const e = addEmail({ mailboxIds: { inbox: true }, from: [{ name: '李娜', email: 'li.na@tianfu.com' }], subject: '新邮件 ' + new Date().toLocaleTimeString('zh-CN'), preview: '实时推送测试', bodyValues: { t: { value: '实时推送测试' } }, textBody: [{ partId: 't', type: 'text/plain' }], htmlBody: [{ partId: 't', type: 'text/plain' }] })
    sortedCache = null
    touch(e.id, 'created')
  }, Number(process.env.MOCK_ARRIVAL_MS))
}

// ------------------------------------------------------------------ HTTP
const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.css': 'text/css', '.svg': 'image/svg+xml', '.png': 'image/png', '.webmanifest': 'application/manifest+json', '.json': 'application/json' }

function cookie(req) {
  const m = /(?:^|;\s*)rm_session=([^;]+)/.exec(req.headers.cookie || '')
  return m && sessions.has(m[1]) ? m[1] : null
}
function send(res, status, body, headers = {}) {
  const buf = typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body)
  res.writeHead(status, { 'Content-Type': typeof body === 'object' && !Buffer.isBuffer(body) ? 'application/json' : 'text/plain', ...headers })
  res.end(buf)
}
function readBody(req) {
  return new Promise((ok) => {
    const chunks = []
    req.on('data', (c) => chunks.push(c))
    req.on('end', () => ok(Buffer.concat(chunks)))
  })
}

http.createServer(async (req, res) => {
  const url = new URL(req.url, 'http://x')
  const p = url.pathname
  const sid = cookie(req)
  const needCsrf = () => {
    if (!sid) { send(res, 401, { type: 'about:blank', status: 401, detail: 'unauthorized' }); return false }
    if (req.headers['x-csrf-token'] !== sessions.get(sid)) { send(res, 403, { type: 'about:blank', status: 403, detail: 'csrf' }); return false }
    return true
  }
  if (p === '/api/login' && req.method === 'POST') {
    const b = JSON.parse((await readBody(req)).toString() || '{}')
    if (b.username !== ME.email || b.password !== 'demo') return send(res, 401, { error: 'badCredentials' })
    const s = randomBytes(16).toString('hex'), csrf = randomBytes(16).toString('hex')
    sessions.set(s, csrf)
    return send(res, 200, { csrfToken: csrf, accountId: ACCOUNT, displayName: ME.name }, { 'Set-Cookie': `rm_session=${s}; HttpOnly; SameSite=Strict; Path=/` })
  }
  if (p === '/api/me') return sid ? send(res, 200, { csrfToken: sessions.get(sid), accountId: ACCOUNT, displayName: ME.name }) : send(res, 401, { error: 'unauthorized' })
  if (p === '/api/logout' && req.method === 'POST') {
    if (sid) sessions.delete(sid)
    return send(res, 204, '', { 'Set-Cookie': 'rm_session=; Max-Age=0; Path=/' })
  }
  if (p === '/.well-known/jmap') {
    if (!sid) return send(res, 401, { type: 'about:blank', status: 401 })
    return send(res, 200, {
      capabilities: { 'urn:ietf:params:jmap:core': { maxSizeUpload: 50_000_000, maxConcurrentUpload: 4, maxSizeRequest: 10_000_000, maxConcurrentRequests: 4, maxCallsInRequest: 16, maxObjectsInGet: 500, maxObjectsInSet: 500, collationAlgorithms: [] },
        'urn:ietf:params:jmap:mail': {}, 'urn:ietf:params:jmap:submission': { maxDelayedSend: 2592000, submissionExtensions: { FUTURERELEASE: [] } } },
      accounts: { [ACCOUNT]: { name: ME.email, isPersonal: true, isReadOnly: false, accountCapabilities: { 'urn:ietf:params:jmap:mail': {}, 'urn:ietf:params:jmap:submission': {} } } },
      primaryAccounts: { 'urn:ietf:params:jmap:mail': ACCOUNT, 'urn:ietf:params:jmap:submission': ACCOUNT },
      username: ME.email, apiUrl: '/jmap/api', downloadUrl: '/jmap/download/{accountId}/{blobId}/{name}?type={type}',
      uploadUrl: '/jmap/upload/{accountId}', eventSourceUrl: '/jmap/eventsource?types={types}&closeafter={closeafter}&ping={ping}', state: 'sess1',
    })
  }
  if (p === '/jmap/api' && req.method === 'POST') {
    if (!needCsrf()) return
    const body = JSON.parse((await readBody(req)).toString())
    if (process.env.MOCK_DELAY_MS) await new Promise((r) => setTimeout(r, Number(process.env.MOCK_DELAY_MS)))
    return send(res, 200, api(body))
  }
  if (p.startsWith('/jmap/upload/') && req.method === 'POST') {
    if (!needCsrf()) return
    const data = await readBody(req)
    const id = 'up-' + randomBytes(6).toString('hex')
    blobs.set(id, { type: req.headers['content-type'] || 'application/octet-stream', data })
    return send(res, 201, { accountId: ACCOUNT, blobId: id, type: req.headers['content-type'], size: data.length })
  }
  if (p.startsWith('/jmap/download/')) {
    if (!sid) return send(res, 401, 'unauthorized')
    const [, , , , blobId, name] = p.split('/')
    const b = blobs.get(decodeURIComponent(blobId))
    if (!b) return send(res, 404, 'not found')
    return send(res, 200, b.data, { 'Content-Type': url.searchParams.get('type') || b.type, 'Content-Disposition': `attachment; filename*=UTF-8''${name}`, 'X-Content-Type-Options': 'nosniff' })
  }
  if (p === '/jmap/eventsource') {
    if (!sid) return send(res, 401, 'unauthorized')
    res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache', Connection: 'keep-alive' })
    res.write(': hello\n\n')
    streams.add(res)
    req.on('close', () => streams.delete(res))
    return
  }
  // static
  let file = join(STATIC, p === '/' ? 'index.html' : p)
  if (!file.startsWith(STATIC) || !existsSync(file) || statSync(file).isDirectory()) file = join(STATIC, 'index.html')
  if (!existsSync(file)) return send(res, 404, 'build first: npm run build')
  const headers = { 'Content-Type': TYPES[extname(file)] || 'application/octet-stream' }
  headers['Cache-Control'] = p.startsWith('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache'
  send(res, 200, readFileSync(file), headers)
}).listen(PORT, '127.0.0.1', () => console.log(`mock RongMail on http://127.0.0.1:${PORT} (${emails.size} emails) — demo@rongmail.cn / demo`))
