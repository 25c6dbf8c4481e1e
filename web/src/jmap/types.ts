/** JMAP data types used by the webmail (RFC 8620 core, RFC 8621 mail). Only the fields we read. */

export type Id = string
export type UTCDate = string

export interface Account {
  name: string
  isPersonal: boolean
  isReadOnly: boolean
  accountCapabilities: Record<string, unknown>
}

/** RFC 8620 §2: the Session resource at /.well-known/jmap. */
export interface Session {
  capabilities: Record<string, any>
  accounts: Record<Id, Account>
  primaryAccounts: Record<string, Id>
  username: string
  apiUrl: string
  downloadUrl: string
  uploadUrl: string
  eventSourceUrl: string
  state: string
}

/** RFC 8620 §3.7: a reference to the result of an earlier call in the same request. */
export interface ResultReference {
  resultOf: string
  name: string
  path: string
}

export type Invocation = [name: string, args: Record<string, any>, callId: string]

export interface JmapRequest {
  using: string[]
  methodCalls: Invocation[]
  createdIds?: Record<Id, Id>
}

export interface JmapResponse {
  methodResponses: Invocation[]
  sessionState: string
  createdIds?: Record<Id, Id>
}

export interface EmailAddress {
  name: string | null
  email: string
}

export interface EmailBodyPart {
  partId: string | null
  blobId: Id | null
  size: number
  name: string | null
  type: string
  charset?: string | null
  disposition?: string | null
  cid?: string | null
}

export interface EmailBodyValue {
  value: string
  isEncodingProblem?: boolean
  isTruncated?: boolean
}

export type Keywords = Record<string, true>

export interface Email {
  id: Id
  blobId?: Id
  threadId: Id
  mailboxIds: Record<Id, true>
  keywords: Keywords
  size?: number
  receivedAt: UTCDate
  from: EmailAddress[] | null
  to?: EmailAddress[] | null
  cc?: EmailAddress[] | null
  bcc?: EmailAddress[] | null
  replyTo?: EmailAddress[] | null
  sender?: EmailAddress[] | null
  subject: string | null
  sentAt?: UTCDate | null
  preview?: string
  hasAttachment?: boolean
  messageId?: string[] | null
  inReplyTo?: string[] | null
  references?: string[] | null
  htmlBody?: EmailBodyPart[]
  textBody?: EmailBodyPart[]
  attachments?: EmailBodyPart[]
  bodyValues?: Record<string, EmailBodyValue>
  /** The server's spam verdict headers, first one ours (see util/spam.ts). */
  'header:X-RongMail-Spam:asText:all'?: (string | null)[] | null
}

export interface Mailbox {
  id: Id
  name: string
  parentId: Id | null
  role: string | null
  sortOrder: number
  totalEmails: number
  unreadEmails: number
  totalThreads: number
  unreadThreads: number
  isSubscribed?: boolean
}

export interface Thread {
  id: Id
  emailIds: Id[]
}

export interface Identity {
  id: Id
  name: string
  email: string
  replyTo?: EmailAddress[] | null
  bcc?: EmailAddress[] | null
  textSignature?: string
  htmlSignature?: string
  mayDelete?: boolean
}

/** RFC 8620 §7.1 push StateChange object. */
export interface StateChange {
  '@type': 'StateChange'
  changed: Record<Id, Record<string, string>>
}

export const CAP_CORE = 'urn:ietf:params:jmap:core'
export const CAP_MAIL = 'urn:ietf:params:jmap:mail'
export const CAP_SUBMISSION = 'urn:ietf:params:jmap:submission'
