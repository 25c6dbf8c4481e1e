/** Map any thrown value to a clear, localised message (zh-CN / en). */
import { JmapError } from '../jmap/client'
import { t } from '../i18n'

const KNOWN = new Set([
  'network', 'unauthorized', 'forbidden', 'notFound', 'stateMismatch', 'overQuota', 'tooLarge',
  'rateLimit', 'invalidArguments', 'forbiddenFrom', 'invalidEmail', 'tooManyRecipients',
  'noRecipients', 'invalidRecipients', 'serverFail', 'serverUnavailable',
])

export function errorText(e: unknown): string {
  if (e instanceof JmapError) {
    if (e.kind === 'network' || e.type === 'offline') return t('error.network')
    if (e.kind === 'unauthorized') return t('error.unauthorized')
    if (KNOWN.has(e.type)) return t('error.' + e.type)
    if (e.status === 503) return t('error.serverUnavailable')
    if (e.status && e.status >= 500) return t('error.serverFail')
    return t('error.unknown', { detail: e.type })
  }
  if (e instanceof TypeError && /fetch|network/i.test(e.message)) return t('error.network')
  const msg = e instanceof Error ? e.message : String(e)
  if (KNOWN.has(msg)) return t('error.' + msg)
  return t('error.unknown', { detail: msg })
}

/** A SetError (RFC 8620 §5.3) from notCreated/notUpdated/notDestroyed as a JmapError. */
export function setError(err: { type?: string; description?: string } | undefined): JmapError {
  return new JmapError('method', err?.type || 'serverFail', err?.description)
}
