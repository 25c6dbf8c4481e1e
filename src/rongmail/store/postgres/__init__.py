"""PostgreSQL metadata backend (asyncpg)."""
