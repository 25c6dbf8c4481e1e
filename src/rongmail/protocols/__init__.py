"""Protocol front ends: thin asyncio shells around sans-IO ``proto`` packages."""
