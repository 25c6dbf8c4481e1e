/** Entry of the admin console (web/admin.html → /admin), separate from the webmail bundle. */
import { createApp } from 'vue'
import AdminApp from './AdminApp.vue'
import { router } from './router'
import { i18n } from './i18n'
import './admin.css'

document.documentElement.lang = i18n.global.locale.value
createApp(AdminApp).use(i18n).use(router).mount('#admin')
