import { describe, expect, it } from 'vitest'
import { buildEmail, replyRecipients, replySubject, sendCalls, threadHeaders, type DraftInput } from '../src/compose/build'
import type { Email } from '../src/jmap/types'

const orig: Email = {
  id: 'E1',
  threadId: 'T1',
  mailboxIds: { inbox: true },
  keywords: {},
  receivedAt: '2026-01-01T00:00:00Z',
  from: [{ name: '张三', email: 'zhang@example.com' }],
  to: [{ name: null, email: 'me@corp.cn' }, { name: '李四', email: 'li@example.com' }],
  cc: [{ name: null, email: 'wang@example.com' }, { name: null, email: 'ME@corp.cn' }],
  subject: '回复: 发票',
  messageId: ['m1@example.com'],
  references: ['m0@example.com'],
}

const draft = (over: Partial<DraftInput> = {}): DraftInput => ({
  identity: { id: 'I1', name: '我', email: 'me@corp.cn' },
  to: [{ name: null, email: 'zhang@example.com' }],
  cc: [],
  bcc: [],
  subject: 'Re: 发票',
  html: '<p>好的</p>',
  text: '好的',
  attachments: [{ blobId: 'B1', type: 'application/pdf', name: '发票.pdf', size: 10 }],
  inReplyTo: ['m1@example.com'],
  references: ['m0@example.com', 'm1@example.com'],
  draftsMailboxId: 'drafts',
  ...over,
})

describe('compose helpers', () => {
  it('reply goes to the sender; reply-all adds others except me', () => {
    expect(replyRecipients(orig, 'reply', ['me@corp.cn']).to.map((a) => a.email)).toEqual(['zhang@example.com'])
    const all = replyRecipients(orig, 'replyAll', ['me@corp.cn'])
    expect(all.to.map((a) => a.email)).toEqual(['zhang@example.com'])
    expect(all.cc.map((a) => a.email)).toEqual(['li@example.com', 'wang@example.com'])
  })
  it('Reply-To wins over From', () => {
    const r = replyRecipients({ ...orig, replyTo: [{ name: null, email: 'list@example.com' }] }, 'reply', [])
    expect(r.to.map((a) => a.email)).toEqual(['list@example.com'])
  })
  it('normalises Chinese and English subject prefixes', () => {
    expect(replySubject(orig.subject, 'reply')).toBe('Re: 发票')
    expect(replySubject('Fwd: RE: 转发：合同', 'forward')).toBe('Fwd: 合同')
  })
  it('threads replies with In-Reply-To and References', () => {
    expect(threadHeaders(orig)).toEqual({ inReplyTo: ['m1@example.com'], references: ['m0@example.com', 'm1@example.com'] })
  })
  it('builds a draft Email with html + text alternatives and attachments', () => {
    const e = buildEmail(draft())
    expect(e.mailboxIds).toEqual({ drafts: true })
    expect(e.keywords).toEqual({ $draft: true, $seen: true })
    expect(e.htmlBody).toEqual([{ partId: 'html', type: 'text/html' }])
    expect(e.textBody).toEqual([{ partId: 'text', type: 'text/plain' }])
    expect(e.bodyValues.html.value).toBe('<p>好的</p>')
    expect(e.attachments[0]).toMatchObject({ blobId: 'B1', disposition: 'attachment' })
    const plain = buildEmail(draft({ html: null }))
    expect(plain.htmlBody).toEqual([{ partId: 'text', type: 'text/plain' }])
    expect(plain.bodyValues.html).toBeUndefined()
  })
  it('sends with a creation-id reference and onSuccessUpdateEmail', () => {
    const [set, sub] = sendCalls(draft(), { oldDraftId: 'D0', sentMailboxId: 'sent', sendAt: null, accountId: 'A1' })
    expect(set[0]).toBe('Email/set')
    expect(set[1].destroy).toEqual(['D0'])
    expect(sub[0]).toBe('EmailSubmission/set')
    expect(sub[1].create.sub).toEqual({ identityId: 'I1', emailId: '#draft' })
    expect(sub[1].onSuccessUpdateEmail['#sub']).toEqual({ 'mailboxIds/drafts': null, 'keywords/$draft': null, 'mailboxIds/sent': true })
  })
  it('send later puts HOLDUNTIL in the envelope', () => {
    const at = new Date('2030-01-02T03:04:05.678Z')
    const [, sub] = sendCalls(draft({ cc: [{ name: null, email: 'c@x.cn' }] }), { oldDraftId: null, sentMailboxId: null, sendAt: at, accountId: 'A1' })
    expect(sub[1].create.sub.envelope).toEqual({
      mailFrom: { email: 'me@corp.cn', parameters: { HOLDUNTIL: '2030-01-02T03:04:05Z' } },
      rcptTo: [{ email: 'zhang@example.com', parameters: null }, { email: 'c@x.cn', parameters: null }],
    })
  })
})
