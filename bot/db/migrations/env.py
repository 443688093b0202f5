"""Alembic environment: runs on a connection handed over by ``bot.db.upgrade``."""

from __future__ import annotations

from alembic import context

from bot.db.models import Base

target_metadata = Base.metadata
connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations with `humiao db upgrade` (it binds the connection)")
context.configure(
    connection=connection,
    target_metadata=target_metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
