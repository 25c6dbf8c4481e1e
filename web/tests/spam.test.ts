import { describe, expect, it } from 'vitest'
import { parseSpamHeader, phishingTags, SPAM_HEADER_PROP } from '../src/util/spam'
import type { Email } from '../src/jmap/types'

function email(headers: (string | null)[] | null): Email {
  return {
    id: 'M1', threadId: 'T1', mailboxIds: {}, keywords: {}, receivedAt: '2026-11-27T00:00:00Z',
    from: null, subject: 'x', [SPAM_HEADER_PROP]: headers,
  } as Email
}

describe('X-RongMail-Spam header', () => {
  it('parses action, score and tags', () => {
    expect(parseSpamHeader('quarantine; score=12.5; tags=IMPERSONATE_EXECUTIVE(+6.0), HTML_CREDENTIAL_FORM(+4.0)'))
      .toEqual({ action: 'quarantine', score: 12.5, tags: ['IMPERSONATE_EXECUTIVE', 'HTML_CREDENTIAL_FORM'] })
    expect(parseSpamHeader('deliver; score=0.0')).toEqual({ action: 'deliver', score: 0, tags: [] })
    expect(parseSpamHeader('nonsense')).toBeNull()
    expect(parseSpamHeader(undefined)).toBeNull()
  })
  it('warns only for phishing tags, from the first (our) header', () => {
    expect(phishingTags(email(['junk; score=6.0; tags=ZH_INVOICE(+4.0), LINK_TEXT_MISMATCH(+2.5)'])))
      .toEqual(['LINK_TEXT_MISMATCH'])
    expect(phishingTags(email(['junk; score=6.0; tags=ZH_INVOICE(+4.0)']))).toEqual([])
    // a forged header further down never overrides ours
    expect(phishingTags(email(['deliver; score=0.0', 'quarantine; score=99; tags=HTML_CREDENTIAL_FORM(+4.0)']))).toEqual([])
    expect(phishingTags(email(null))).toEqual([])
  })
})
