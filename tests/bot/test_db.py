from __future__ import annotations

import uuid

import asyncpg
from sqlalchemy import inspect

from bot import db
from bot.settings import Settings


async def _tables(url: str) -> set[str]:
    engine = db.create_engine(url)
    try:
        await db.upgrade(engine)
        assert await db.current_revision(engine) is not None
        await db.upgrade(engine)  # idempotent
        async with engine.connect() as conn:
            return set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
    finally:
        await engine.dispose()


async def test_migrations_on_sqlite(settings: Settings) -> None:
    tables = await _tables(settings.database_url)
    assert "audit_events" in tables and "alembic_version" in tables


async def test_migrations_on_postgresql(postgres_url: str) -> None:
    """The same migrations on PostgreSQL, in a throw-away database."""
    name = f"humiao_test_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(postgres_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        url = Settings(database_url=postgres_url.rsplit("/", 1)[0] + f"/{name}").database_url
        tables = await _tables(url)
        assert "audit_events" in tables
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
