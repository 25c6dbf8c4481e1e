"""HTTP: one aiohttp application serving JMAP, the webmail, the admin API and autoconfig."""
