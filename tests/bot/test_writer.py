"""The group-commit writer: batching, isolation of a failing job, stored-before-answered, shutdown."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from bot import db
from bot.db.models import AuditEvent
from bot.db.writer import Writer, WriterStopped


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    engine = db.create_engine(f"sqlite:///{tmp_path / 'w.sqlite3'}", writer=True)
    db.upgrade(engine)
    return engine


def add_event(session: Session, n: int) -> int:
    event = AuditEvent(actor="test", action="write", subject_type="test", subject_id=f"n{n}")
    session.add(event)
    session.flush()
    return event.id


def count(engine: Engine) -> int:
    with Session(engine) as session:
        return int(session.scalar(select(func.count()).select_from(AuditEvent)) or 0)


async def test_many_concurrent_jobs_share_commits(engine: Engine) -> None:
    writer = Writer(engine)
    writer.start()
    try:
        ids = await asyncio.gather(*(writer.run(lambda s, n=n: add_event(s, n)) for n in range(500)))
    finally:
        writer.stop()
    assert len(set(ids)) == 500 and count(engine) == 500
    # 500 requests, far fewer transactions: the point of group commit.
    assert writer.stats.jobs == 500 and writer.stats.batches < 100 and writer.stats.max_batch_seen > 5


async def test_a_failing_job_rolls_back_alone(engine: Engine) -> None:
    writer = Writer(engine)
    writer.start()

    def bad(session: Session) -> None:
        add_event(session, -1)
        raise ValueError("boom")

    try:
        results = await asyncio.gather(
            writer.run(lambda s: add_event(s, 1)),
            writer.run(bad),
            writer.run(lambda s: add_event(s, 2)),
            return_exceptions=True,
        )
    finally:
        writer.stop()
    assert isinstance(results[1], ValueError)
    assert isinstance(results[0], int) and isinstance(results[2], int)
    with Session(engine) as session:
        subjects = set(session.scalars(select(AuditEvent.subject_id)))
    assert subjects == {"n1", "n2"}  # the failed job's row is gone, its neighbours are stored


async def test_result_arrives_only_after_commit(engine: Engine) -> None:
    writer = Writer(engine)
    writer.start()
    try:
        await writer.run(lambda s: add_event(s, 1))
        # Another connection sees the row as soon as run() returns.
        assert count(engine) == 1
    finally:
        writer.stop()


async def test_stop_drains_queued_work_and_refuses_new(engine: Engine) -> None:
    writer = Writer(engine)
    writer.start()
    gate = threading.Event()

    def slow(session: Session) -> int:
        gate.wait(5)
        return add_event(session, 0)

    first = asyncio.ensure_future(writer.run(slow))
    await asyncio.sleep(0.05)
    for n in range(1, 20):
        writer.submit(lambda s, n=n: add_event(s, n))
    gate.set()
    await first
    await asyncio.to_thread(writer.stop)
    assert count(engine) == 20
    with pytest.raises(WriterStopped):
        await writer.run(lambda s: add_event(s, 99))


def test_run_blocking_from_a_thread(engine: Engine) -> None:
    writer = Writer(engine)
    writer.start()
    try:
        assert writer.run_blocking(lambda s: add_event(s, 5)) > 0
        with pytest.raises(KeyError):
            writer.run_blocking(lambda s: {}["missing"])
    finally:
        writer.stop()
    assert count(engine) == 1
