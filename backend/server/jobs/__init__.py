"""Library jobs: rows in PostgreSQL, each run by one asyncio task of the gateway that started it."""
