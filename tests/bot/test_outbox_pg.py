"""The outbox on PostgreSQL: two gateway processes leasing at once never take the same row."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from bot import db
from bot.db.models import (
    Author,
    Channel,
    Direction,
    Message,
    MessageKind,
    OutboxItem,
    OutboxStatus,
    utcnow,
)
from bot.outbox import lease_due

from .conftest import new_conversation


def test_concurrent_leases_are_disjoint_and_parts_stay_in_order(pg_database: str) -> None:
    engine = db.create_engine(pg_database)
    db.upgrade(engine)
    now = utcnow()
    with Session(engine) as session, session.begin():
        conversation_id = new_conversation(session, Channel.WECHAT, "o_pg_outbox")
        for n in range(6):
            reply = Message(
                conversation_id=conversation_id,
                direction=Direction.OUTBOUND,
                author=Author.BOT,
                kind=MessageKind.TEXT,
                text=f"reply {n}",
            )
            session.add(reply)
            session.flush()
            parts = 2 if n == 0 else 1  # reply 0 has two parts: part 1 must wait for part 0
            for part in range(parts):
                session.add(
                    OutboxItem(
                        message_id=reply.id,
                        openid="o_pg_outbox",
                        text=f"reply {n} part {part}",
                        part=part,
                        status=OutboxStatus.PENDING,
                        next_attempt_at=now - timedelta(seconds=1),
                    )
                )
    try:
        with Session(engine) as first, Session(engine) as second:
            first.begin()
            second.begin()
            taken_first = lease_due(first, limit=3, now=now)  # holds its row locks until commit
            taken_second = lease_due(second, limit=10, now=now)  # SKIP LOCKED: takes the others
            first.commit()
            second.commit()
        ids_first = {lease.id for lease in taken_first}
        ids_second = {lease.id for lease in taken_second}
        assert len(ids_first) == 3 and ids_first.isdisjoint(ids_second)
        texts = {lease.text for lease in taken_first + taken_second}
        assert "reply 0 part 1" not in texts  # behind its unfinished first part
        assert len(texts) == 6
    finally:
        engine.dispose()
