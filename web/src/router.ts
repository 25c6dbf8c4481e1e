/**
 * Hash-based routes, so the server only has to serve index.html at "/" (no SPA fallback).
 *   #/login                       sign in
 *   #/mail/:mailbox               message list (mailbox id)
 *   #/mail/:mailbox/:thread       conversation (desktop: next to the list)
 *   #/search?q=&from=&after=&before=&att=1&in=
 *   #/folders                     folder list (phone)
 *   #/compose?mode=reply|replyAll|forward&id=EMAILID | ?draft=EMAILID | ?to=addr
 *   #/settings
 *   #/quarantine[/:id]            held messages: reasons, preview, release / delete
 * Compose, settings and quarantine are separate chunks (code-split, loaded on demand).
 */
import { createRouter, createWebHashHistory } from 'vue-router'
import { session } from './stores/session'
import MailView from './views/MailView.vue'
import LoginView from './views/LoginView.vue'

export const router = createRouter({
  history: createWebHashHistory(),
  routes: [
    { path: '/', redirect: '/mail/inbox' },
    { path: '/login', name: 'login', component: LoginView, meta: { public: true } },
    { path: '/mail/:mailbox', name: 'list', component: MailView },
    { path: '/mail/:mailbox/:thread', name: 'thread', component: MailView },
    { path: '/search', name: 'search', component: MailView },
    { path: '/search/:thread', name: 'search-thread', component: MailView },
    { path: '/folders', name: 'folders', component: MailView },
    { path: '/compose', name: 'compose', component: () => import('./views/ComposeView.vue') },
    { path: '/settings', name: 'settings', component: () => import('./views/SettingsView.vue') },
    { path: '/quarantine/:id(\\d+)?', name: 'quarantine', component: () => import('./views/QuarantineView.vue') },
    { path: '/:pathMatch(.*)*', redirect: '/mail/inbox' },
  ],
})

router.beforeEach((to) => {
  if (session.status === 'unknown') return true // App.vue restores the session first
  if (!to.meta.public && session.status === 'anonymous') {
    return { name: 'login', query: { next: to.fullPath } }
  }
  return true
})
