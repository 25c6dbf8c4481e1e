/** Toasts (status messages with an optional action such as Undo), announced via aria-live. */
import { reactive } from 'vue'

export interface Toast {
  id: number
  text: string
  kind: 'info' | 'error'
  actionLabel?: string
  action?: () => void
}

let seq = 0
export const toasts = reactive<Toast[]>([])

export function toast(text: string, opts: { kind?: 'info' | 'error'; actionLabel?: string; action?: () => void; ms?: number } = {}): number {
  const id = ++seq
  toasts.push({ id, text, kind: opts.kind ?? 'info', actionLabel: opts.actionLabel, action: opts.action })
  while (toasts.length > 3) toasts.shift()
  setTimeout(() => dismiss(id), opts.ms ?? (opts.action ? 8000 : 4000))
  return id
}

export function dismiss(id: number): void {
  const i = toasts.findIndex((x) => x.id === id)
  if (i >= 0) toasts.splice(i, 1)
}
