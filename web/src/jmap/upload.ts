/**
 * Blob upload (RFC 8620 §6.1) with progress. Uses XMLHttpRequest because fetch() has no upload
 * progress events. The URL is session.uploadUrl with {accountId} filled in.
 */
export interface UploadResult {
  accountId: string
  blobId: string
  type: string
  size: number
}

export interface UploadHandle {
  promise: Promise<UploadResult>
  abort: () => void
}

export function uploadBlob(
  url: string,
  file: Blob,
  csrfToken: string | null,
  onProgress?: (fraction: number) => void,
): UploadHandle {
  const xhr = new XMLHttpRequest()
  const promise = new Promise<UploadResult>((resolve, reject) => {
    xhr.open('POST', url)
    xhr.withCredentials = true
    xhr.setRequestHeader('Content-Type', file.type || 'application/octet-stream')
    if (csrfToken) xhr.setRequestHeader('X-CSRF-Token', csrfToken)
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable && onProgress) onProgress(e.loaded / e.total)
    }
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        try {
          resolve(JSON.parse(xhr.responseText) as UploadResult)
        } catch {
          reject(new Error('badJson'))
        }
      } else if (xhr.status === 413) {
        reject(new Error('tooLarge'))
      } else {
        reject(new Error('http' + xhr.status))
      }
    }
    xhr.onerror = () => reject(new Error('network'))
    xhr.onabort = () => reject(new Error('aborted'))
    xhr.send(file)
  })
  return { promise, abort: () => xhr.abort() }
}
