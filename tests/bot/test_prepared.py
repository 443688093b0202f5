"""Prepared statements store and read exactly what SQLAlchemy's own execution does, on SQLite and PostgreSQL."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
from sqlalchemy import Engine, bindparam, insert, select, update
from sqlalchemy.orm import Session

from bot import db
from bot.db.models import Author, Channel, Direction, Message, MessageKind
from bot.db.prepared import Prepared
from bot.settings import Settings
from triage.labels import Category, Urgency

from .conftest import new_conversation

SECRET = "我被打了-invented-secret"
NOW = datetime(2026, 12, 3, 8, 30, 15, 123456, tzinfo=UTC)
_messages = Message.__table__
COLUMNS = ("conversation_id", "direction", "author", "kind", "dedupe_key", "text", "created_at", "handled_at")
COLUMNS += ("urgency", "category", "confidence", "signals")
INSERT = Prepared(
    insert(_messages).values({c: bindparam(c, type_=_messages.c[c].type) for c in COLUMNS}).returning(_messages.c.id)
)
FIND = Prepared(
    select(
        _messages.c.id, _messages.c.urgency, _messages.c.created_at, _messages.c.signals, _messages.c.handled_at
    ).where(_messages.c.dedupe_key == bindparam("key"))
)
MARK = Prepared(
    update(_messages)
    .where(_messages.c.id == bindparam("id"), _messages.c.urgency == Urgency.RED)
    .values(confidence=0.5)
)


def _row(conversation_id: int, key: str) -> dict[str, Any]:
    return {
        "conversation_id": conversation_id,
        "direction": Direction.INBOUND,
        "author": Author.CONTACT,
        "kind": MessageKind.TEXT,
        "dedupe_key": key,
        "text": SECRET,
        "created_at": NOW,
        "handled_at": None,
        "urgency": Urgency.RED,
        "category": Category.SUICIDE_SELFHARM,
        "confidence": 0.97,
        "signals": ["手段: 安眠药", "时间: 今晚"],
    }


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, settings: Settings) -> Any:
    url = settings.database_url if request.param == "sqlite" else request.getfixturevalue("pg_database")
    engine = db.create_engine(url)
    db.upgrade(engine)
    yield engine
    engine.dispose()


def _conversation(session: Session) -> int:
    return new_conversation(session, Channel.WEB, "s_prepared_test_1")


def test_a_prepared_insert_stores_what_core_stores(engine: Engine) -> None:
    with Session(engine) as session, session.begin():
        conversation_id = _conversation(session)
        conn = session.connection()
        row = INSERT.first(conn, _row(conversation_id, "k-prepared"))
        assert row is not None
        prepared_id = row[0]
        core_id = conn.execute(
            insert(_messages).returning(_messages.c.id), _row(conversation_id, "k-core")
        ).scalar_one()
    with Session(engine) as session:
        prepared, core = session.get(Message, prepared_id), session.get(Message, core_id)
        assert prepared is not None and core is not None
        for column in COLUMNS:
            if column != "dedupe_key":
                assert getattr(prepared, column) == getattr(core, column), column
        assert prepared.urgency is Urgency.RED and prepared.signals == ["手段: 安眠药", "时间: 今晚"]
        # The raw column is the same too (enum values, SQLite's datetime text), not only the ORM's view of it.
        raw = session.execute(select(_messages.c.urgency.cast(_messages.c.text.type), _messages.c.created_at))
        assert len({tuple(map(str, r)) for r in raw}) == 1


def test_a_prepared_select_converts_its_columns_as_core_does(engine: Engine) -> None:
    with Session(engine) as session, session.begin():
        conn = session.connection()
        INSERT.first(conn, _row(_conversation(session), "k-1"))
        prepared = FIND.first(conn, {"key": "k-1"})
        core = conn.execute(FIND.statement, {"key": "k-1"}).one()
        assert prepared == tuple(core)
        assert prepared is not None and prepared[1] is Urgency.RED and isinstance(prepared[2], datetime)
        assert FIND.first(conn, {"key": "no such key"}) is None
        # A literal in the statement (urgency == RED) is bound as SQLAlchemy binds it.
        assert MARK.rowcount(conn, {"id": prepared[0]}) == 1
        assert MARK.rowcount(conn, {"id": prepared[0] + 1000}) == 0


def test_a_failing_prepared_statement_does_not_carry_message_text(engine: Engine) -> None:
    # The driver's own exception: the statement ran on its cursor, past SQLAlchemy's wrapping.
    expected = (sqlite3.IntegrityError, psycopg.errors.ForeignKeyViolation)
    with pytest.raises(expected) as failure, Session(engine) as session, session.begin():
        INSERT.first(session.connection(), _row(999_999, "k-orphan"))  # no such conversation
    assert "FOREIGN KEY" in str(failure.value).upper()
    assert SECRET not in str(failure.value)
