import { createApp } from 'vue'
import App from './App.vue'
import { router } from './router'
import { i18n } from './i18n'
import { applyTheme, prefs } from './stores/prefs'
import { registerServiceWorker } from './util/sw'
import { watch } from 'vue'
import './styles/base.css'

applyTheme()
watch(() => prefs.theme, applyTheme)
window.matchMedia?.('(prefers-color-scheme: dark)').addEventListener?.('change', applyTheme)
document.documentElement.lang = i18n.global.locale.value

createApp(App).use(i18n).use(router).mount('#app')
registerServiceWorker()
