/**
 * Hash routes of the console; `meta.perm` is the admin API permission a page needs (the same
 * names as the server's role table, see GET /api/admin/me). A page the role lacks renders the
 * "no access" panel; the server refuses the calls anyway (403), this only keeps the UI honest.
 * `meta.roles` narrows a page to roles where the server decides by role rather than by a
 * permission (the tenant-wide quarantine: tenant and super admins, see
 * protocols/http/quarantine.py).
 */
import { createRouter, createWebHashHistory } from 'vue-router'

/** Roles that see the whole tenant's quarantine (the server's ``_TENANT_ADMINS``). */
export const QUARANTINE_ROLES = ['tenant_admin', 'super_admin']

export const router = createRouter({
  history: createWebHashHistory(),
  routes: [
    { path: '/', redirect: '/domains' },
    { path: '/tenants', component: () => import('./views/TenantsView.vue'), meta: { perm: 'tenant.read', nav: 'tenants' } },
    { path: '/domains', component: () => import('./views/DomainsView.vue'), meta: { perm: 'domain.read', nav: 'domains' } },
    { path: '/domains/:name/dns', component: () => import('./views/DnsView.vue'), meta: { perm: 'dns.read', nav: 'domains' } },
    { path: '/users', component: () => import('./views/UsersView.vue'), meta: { perm: 'user.read', nav: 'users' } },
    { path: '/import', component: () => import('./views/ImportView.vue'), meta: { perm: 'user.import', nav: 'import' } },
    { path: '/aliases', component: () => import('./views/AliasesView.vue'), meta: { perm: 'alias.read', nav: 'aliases' } },
    { path: '/queue', component: () => import('./views/QueueView.vue'), meta: { perm: 'queue.read', nav: 'queue' } },
    { path: '/audit', component: () => import('./views/AuditView.vue'), meta: { perm: 'audit.read', nav: 'audit' } },
    { path: '/quarantine', component: () => import('./views/QuarantineView.vue'), meta: { roles: QUARANTINE_ROLES, nav: 'quarantine' } },
    { path: '/:pathMatch(.*)*', redirect: '/domains' },
  ],
})

export const NAV: { key: string; path: string; perm?: string; roles?: string[] }[] = [
  { key: 'tenants', path: '/tenants', perm: 'tenant.read' },
  { key: 'domains', path: '/domains', perm: 'domain.read' },
  { key: 'users', path: '/users', perm: 'user.read' },
  { key: 'import', path: '/import', perm: 'user.import' },
  { key: 'aliases', path: '/aliases', perm: 'alias.read' },
  { key: 'queue', path: '/queue', perm: 'queue.read' },
  { key: 'quarantine', path: '/quarantine', roles: QUARANTINE_ROLES },
  { key: 'audit', path: '/audit', perm: 'audit.read' },
]
