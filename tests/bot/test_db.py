from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from bot import db
from bot.db.models import Base
from bot.settings import Settings

TABLES = {"audit_events", "contacts", "conversations", "messages", "cases", "outbox", "alembic_version"}


def _check(url: str) -> None:
    engine = db.create_engine(url)
    try:
        db.upgrade(engine)
        assert db.current_revision(engine) == "0002"
        db.upgrade(engine)  # idempotent
        with engine.connect() as conn:
            assert set(inspect(conn).get_table_names()) >= TABLES
            # The migrations produce exactly what the models declare.
            assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
        db.downgrade(engine, "0001")  # and the way back works
        assert db.current_revision(engine) == "0001"
    finally:
        engine.dispose()


def test_migrations_on_sqlite(settings: Settings) -> None:
    _check(settings.database_url)


def test_migrations_on_postgresql(pg_database: str) -> None:
    _check(pg_database)


def test_database_errors_do_not_carry_message_text(settings: Settings) -> None:
    from sqlalchemy import text
    from sqlalchemy.exc import IntegrityError

    engine = db.create_engine(settings.database_url)
    db.upgrade(engine)
    secret = "我被打了-invented-secret"
    try:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO contacts (id, channel, external_id) VALUES (1, 'web', :x)"), {"x": secret})
            conn.execute(text("INSERT INTO contacts (id, channel, external_id) VALUES (1, 'web', :x)"), {"x": secret})
    except IntegrityError as exc:
        assert secret not in str(exc)
    else:
        raise AssertionError("the duplicate key should have failed")
    finally:
        engine.dispose()
