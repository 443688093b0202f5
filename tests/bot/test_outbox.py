"""The customer-service (outbox) path against a fake WeChat API on 127.0.0.1.

Unit-level tests drive :class:`bot.outbox.Dispatcher` round by round (``run_once``) with a real group-commit
writer on a temporary SQLite file, wechatpy's real client (``wechat_sender``) and an injectable clock, so
backoff and lease expiry are jumped over instead of slept through. App-level tests run the whole gateway
(``make_client``) with its background dispatcher pointed at the fake through ``Settings.wechat_api_base``.
All OpenIDs, texts and credentials are invented.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from bot import db, store
from bot.conversation import split_utf8
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
from bot.db.writer import Writer
from bot.gateway import Gateway
from bot.handlers import wechat as wechat_handler
from bot.keys import DISPATCHER, WRITER
from bot.outbox import (
    BACKOFF_MAX_S,
    DELIVERY_WINDOW,
    LEASE,
    OUTBOX_TRANSITIONS,
    Dispatcher,
    SendError,
    backoff,
    check_transition,
    wechat_sender,
)
from triage.queue import InvalidTransition

from .conftest import APPID, MakeClient, new_conversation, rows
from .fake_wechat_api import FakeWeChatAPI
from .wechat_peer import WeChatPeer

SECRET = "fake-secret-for-tests-0123456789ab"
OPENID = "o_outbox_test_user_01"
OPENID_2 = "o_outbox_test_user_02"


# ----- helpers --------------------------------------------------------------------------------------------------------


class Clock:
    """A clock the test moves by hand (the dispatcher's ``clock=``)."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or utcnow()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


def naive(value: datetime) -> datetime:
    """SQLite hands datetimes back without tzinfo; compare in naive UTC."""
    return value.replace(tzinfo=None)


def reply_message(session: Session, openid: str, text: str) -> int:
    """An answered inbound message of ``openid`` and the bot's reply ``text`` to it; returns the reply's id.

    Written with the models alone (not the gateway's storage functions): these tests are about the outbox."""
    conversation_id = new_conversation(session, Channel.WECHAT, openid)
    inbound = Message(
        conversation_id=conversation_id,
        direction=Direction.INBOUND,
        author=Author.CONTACT,
        kind=MessageKind.TEXT,
        text="（测试）你好",
        handled_at=utcnow(),  # answered: a restarted gateway's recovery leaves it alone
    )
    session.add(inbound)
    session.flush()
    reply = Message(
        conversation_id=conversation_id,
        direction=Direction.OUTBOUND,
        author=Author.BOT,
        kind=MessageKind.TEXT,
        text=text,
        reply_to_id=inbound.id,
    )
    session.add(reply)
    session.flush()
    return reply.id


def enqueue(
    session: Session,
    openid: str,
    text: str,
    *,
    status: OutboxStatus = OutboxStatus.PENDING,
    next_attempt_at: datetime | None = None,
    attempts: int = 0,
) -> int:
    """A writer job: a reply ``text`` to ``openid`` queued in the outbox as one part (what ``store.apply``
    writes, minus the policy); returns the outbox row's id."""
    item = OutboxItem(
        message_id=reply_message(session, openid, text),
        openid=openid,
        text=text,
        part=0,
        status=status,
        attempts=attempts,
        next_attempt_at=next_attempt_at or utcnow(),
        created_at=utcnow(),
    )
    session.add(item)
    session.flush()
    return item.id


def job(**kwargs: Any) -> Callable[[Session], int]:
    return lambda session: enqueue(session, **kwargs)


def outbox(engine: Engine) -> list[OutboxItem]:
    with Session(engine) as session:
        return list(session.scalars(select(OutboxItem).order_by(OutboxItem.id)))


def item(engine: Engine, outbox_id: int) -> OutboxItem:
    with Session(engine) as session:
        found = session.get(OutboxItem, outbox_id)
        assert found is not None
        return found


async def poll(predicate: Callable[[], bool], timeout: float = 5.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not reached within {timeout}s")
        await asyncio.sleep(0.02)


def contents(records: list[dict[str, Any]]) -> Counter[str]:
    return Counter(record["text"]["content"] for record in records)


# ----- fixtures -------------------------------------------------------------------------------------------------------


@pytest.fixture
def api() -> Iterator[FakeWeChatAPI]:
    with FakeWeChatAPI(appid=APPID, secret=SECRET) as fake:
        yield fake


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = db.create_engine(f"sqlite:///{tmp_path / 'outbox.sqlite3'}", writer=True)
    db.upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
async def writer(engine: Engine) -> AsyncIterator[Writer]:
    writer = Writer(engine)
    writer.start()
    yield writer
    await asyncio.to_thread(writer.stop)


@pytest.fixture
def clock() -> Clock:
    return Clock()


def dispatcher(writer: Writer, api: FakeWeChatAPI, clock: Clock, **kw: Any) -> Dispatcher:
    send_timeout = kw.pop("send_timeout", 3.0)
    sender = wechat_sender(APPID, SECRET, api.url, timeout=kw.pop("http_timeout", send_timeout))
    return Dispatcher(writer, sender, send_timeout=send_timeout, clock=clock, **kw)


# ----- 1. success -----------------------------------------------------------------------------------------------------


async def test_pending_row_is_delivered_and_marked_sent(
    writer: Writer, engine: Engine, api: FakeWeChatAPI, clock: Clock
) -> None:
    text = "你好，这里是护苗（测试消息一）。如需帮助可拨打 12355。"
    outbox_id = await writer.run(job(openid=OPENID, text=text, next_attempt_at=clock()))
    sender = dispatcher(writer, api, clock)

    assert await sender.run_once() == 1
    assert api.delivered == [{"touser": OPENID, "msgtype": "text", "text": {"content": text}}]
    row = item(engine, outbox_id)
    assert row.status is OutboxStatus.SENT and row.attempts == 1 and row.last_error is None
    assert row.sent_at is not None and naive(row.sent_at) == naive(clock())
    # Nothing left to do: later rounds (even much later) send nothing again.
    clock.advance(timedelta(hours=1))
    assert await sender.run_once() == 0
    assert len(api.received) == 1 and sender.sent == 1


async def test_a_row_not_yet_due_waits(writer: Writer, engine: Engine, api: FakeWeChatAPI, clock: Clock) -> None:
    outbox_id = await writer.run(
        job(openid=OPENID, text="稍后发送（测试）", next_attempt_at=clock() + timedelta(seconds=30))
    )
    sender = dispatcher(writer, api, clock)
    assert await sender.run_once() == 0 and api.received == []
    clock.advance(timedelta(seconds=30))
    assert await sender.run_once() == 1
    assert item(engine, outbox_id).status is OutboxStatus.SENT


async def test_late_passive_reply_leaves_through_the_outbox(
    make_client: MakeClient, peer: WeChatPeer, api: FakeWeChatAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """End to end: the pipeline outlasts the passive-reply budget, so /wechat gives up on a passive reply (``success``
    once the message is stored, ``503 busy`` before that, so WeChat retries) and the reply, released from HELD to
    the outbox, is delivered by the app's own dispatcher through the configured API base."""
    monkeypatch.setattr(wechat_handler, "REPLY_BUDGET_S", 0.3)
    grade = Gateway.grade

    async def slow_grade(self: Gateway, inbound: store.Inbound) -> Any:
        await asyncio.sleep(1.0)  # well past the budget, however fast storing is
        return await grade(self, inbound)

    monkeypatch.setattr(Gateway, "grade", slow_grade)
    client = await make_client(wechat_secret=SECRET, wechat_api_base=api.url)
    params, body = peer.envelope(peer.text("你们的服务是做什么的？", user=OPENID), mode="aes")
    response = await client.post("/wechat", params=params, data=body)
    assert (response.status, await response.text()) in {(200, "success"), (503, "busy")}

    # Generous timeouts: the first message of a test session also warms up the classifier (jieba) here.
    await asyncio.to_thread(api.wait_for, 1, 15.0, delivered=True)
    await poll(lambda: all(o.status is OutboxStatus.SENT for o in rows(client, OutboxItem)), 10.0, "all SENT")
    replies = [m for m in rows(client, Message) if m.direction is Direction.OUTBOUND]
    assert len(replies) == 1 and replies[0].text
    items = rows(client, OutboxItem)
    assert items and {o.message_id for o in items} == {replies[0].id} and all(o.attempts == 1 for o in items)
    assert api.delivered == [{"touser": OPENID, "msgtype": "text", "text": {"content": o.text}} for o in items]
    assert api.token_requests == 1  # the token came from the configured base, not api.weixin.qq.com


async def test_without_a_secret_replies_stay_queued(make_client: MakeClient) -> None:
    client = await make_client()  # an AppID but no secret: no customer-service API
    assert client.app[DISPATCHER].sender is None
    outbox_id = await client.app[WRITER].run(job(openid=OPENID, text="无密钥时排队（测试）"))
    await asyncio.sleep(0.25)  # five dispatcher intervals
    assert [(o.id, o.status, o.attempts) for o in rows(client, OutboxItem)] == [(outbox_id, OutboxStatus.PENDING, 0)]


# ----- 2. errcode 45015 -----------------------------------------------------------------------------------------------


async def test_45015_is_recorded_as_expired_and_never_retried(
    writer: Writer, engine: Engine, api: FakeWeChatAPI, clock: Clock
) -> None:
    api.mode = "45015"
    outbox_id = await writer.run(job(openid=OPENID, text="超过48小时的回复（测试）", next_attempt_at=clock()))
    sender = dispatcher(writer, api, clock)

    assert await sender.run_once() == 1
    row = item(engine, outbox_id)
    assert row.status is OutboxStatus.EXPIRED and row.attempts == 1
    assert row.last_error is not None and "45015" in row.last_error
    api.mode = "ok"  # even if the person could be reached again, an expired row stays recorded, not resent
    for step in (timedelta(seconds=2), LEASE, timedelta(minutes=10), timedelta(days=2)):
        clock.advance(step)
        assert await sender.run_once() == 0
    assert len(api.received) == 1 and api.delivered == [] and api.outcomes["45015"] == 1
    assert item(engine, outbox_id).status is OutboxStatus.EXPIRED


async def test_45015_with_the_background_loop_running(
    writer: Writer, engine: Engine, api: FakeWeChatAPI, clock: Clock
) -> None:
    api.mode = "45015"
    outbox_id = await writer.run(job(openid=OPENID, text="后台循环（测试）", next_attempt_at=clock()))
    sender = dispatcher(writer, api, clock, interval=0.01)
    sender.start()
    try:
        await poll(lambda: item(engine, outbox_id).status is OutboxStatus.EXPIRED, what="EXPIRED")
        rounds_before = sender.writer.stats.jobs
        clock.advance(timedelta(hours=49))
        await poll(lambda: sender.writer.stats.jobs >= rounds_before + 10, what="ten more rounds")
    finally:
        await asyncio.wait_for(sender.stop(), 5.0)  # a stop that never returns would hang the suite
    assert len(api.received) == 1


# ----- 3. timeout, backoff, off the event loop ------------------------------------------------------------------------


async def test_timeout_goes_back_to_pending_with_backoff_then_delivers(
    writer: Writer, engine: Engine, api: FakeWeChatAPI, clock: Clock
) -> None:
    api.mode, api.delay = "timeout", 3.0
    text = "慢慢来的回复（测试）"
    outbox_id = await writer.run(job(openid=OPENID, text=text, next_attempt_at=clock()))
    sender = dispatcher(writer, api, clock, send_timeout=0.3, http_timeout=10.0)

    ticks: list[float] = []

    async def ticker() -> None:
        while True:
            ticks.append(time.monotonic())
            await asyncio.sleep(0.01)

    ticking = asyncio.create_task(ticker())
    started = time.monotonic()
    try:
        assert await sender.run_once() == 1
    finally:
        ticking.cancel()
    elapsed = time.monotonic() - started
    assert 0.25 < elapsed < 2.0, f"the round took {elapsed:.2f}s; the send timeout is 0.3s"
    # The event loop kept running while the send was stuck in its worker thread.
    gaps = [b - a for a, b in itertools.pairwise(ticks)]
    assert len(ticks) >= 10 and max(gaps) < 0.25, f"{len(ticks)} ticks, longest gap {max(gaps):.3f}s"

    row = item(engine, outbox_id)
    assert row.status is OutboxStatus.PENDING and row.attempts == 1
    assert row.last_error == "timeout"
    assert naive(row.next_attempt_at) == naive(clock() + backoff(1)) == naive(clock() + timedelta(seconds=2))
    assert row.sent_at is None

    api.mode = "ok"
    assert await sender.run_once() == 0  # backing off: not due yet
    clock.advance(timedelta(seconds=2))
    assert await sender.run_once() == 1
    row = item(engine, outbox_id)
    assert row.status is OutboxStatus.SENT and row.attempts == 2 and row.last_error is None
    assert len(api.received) == 2 and api.outcomes == Counter({"timeout": 1, "ok": 1})
    assert text in contents(api.wait_for(1, delivered=True))


@pytest.mark.parametrize("mode", ["error", "http500"])
async def test_transient_errors_retry_with_growing_backoff_until_the_delivery_window_closes(
    writer: Writer, engine: Engine, api: FakeWeChatAPI, clock: Clock, mode: str
) -> None:
    api.mode = mode
    outbox_id = await writer.run(job(openid=OPENID, text=f"系统繁忙重试（测试 {mode}）", next_attempt_at=clock()))
    queued_at = item(engine, outbox_id).created_at
    sender = dispatcher(writer, api, clock)
    for attempt in range(1, 12):  # 2 s, 4 s … 512 s, then capped at 10 minutes
        assert await sender.run_once() == 1
        row = item(engine, outbox_id)
        assert row.status is OutboxStatus.PENDING and row.attempts == attempt
        assert naive(row.next_attempt_at) == naive(clock() + backoff(attempt))
        assert row.last_error == ("errcode -1" if mode == "error" else "errcode None")
        clock.advance(backoff(attempt) - timedelta(seconds=1))
        assert await sender.run_once() == 0  # still backing off
        clock.advance(timedelta(seconds=1))
    assert backoff(10) == backoff(11) == timedelta(minutes=10)
    # Two days on, the next try would fall outside WeChat's 48-hour window: now it fails, and stays failed.
    clock.advance(naive(queued_at) + DELIVERY_WINDOW - timedelta(minutes=5) - naive(clock()))
    assert await sender.run_once() == 1
    row = item(engine, outbox_id)
    assert row.status is OutboxStatus.FAILED and row.attempts == 12
    clock.advance(timedelta(days=1))
    assert await sender.run_once() == 0
    assert len(api.received) == 12 and api.delivered == []


async def test_an_outage_of_hours_delays_a_reply_and_does_not_lose_it(
    writer: Writer, engine: Engine, api: FakeWeChatAPI, clock: Clock
) -> None:
    api.mode = "http500"
    outbox_id = await writer.run(job(openid=OPENID, text="停机三小时后的回复（测试）", next_attempt_at=clock()))
    sender = dispatcher(writer, api, clock)
    tries = 0
    outage_ends = clock() + timedelta(hours=3)
    while clock() < outage_ends:
        tries += await sender.run_once()
        assert item(engine, outbox_id).status is OutboxStatus.PENDING
        clock.advance(timedelta(minutes=1))
    assert 20 <= tries <= 30  # every ten minutes once the backoff is capped, not a storm of retries
    api.mode = "ok"
    clock.advance(timedelta(minutes=10))
    assert await sender.run_once() == 1
    row = item(engine, outbox_id)
    assert row.status is OutboxStatus.SENT and row.attempts == tries + 1
    assert "停机三小时后的回复（测试）" in contents(api.wait_for(1, delivered=True))


async def test_token_fetch_is_bounded_by_the_send_timeout(api: FakeWeChatAPI) -> None:
    """wechatpy fetches the access token with no timeout; the sender must not leave a worker thread hanging on a
    token endpoint that never answers (threads are not cancelled by asyncio's timeout)."""
    api.token_delay = 4.0
    send = wechat_sender(APPID, SECRET, api.url, timeout=0.3)
    started = time.monotonic()
    with pytest.raises(SendError):
        await asyncio.wait_for(asyncio.to_thread(send, OPENID, "令牌超时（测试）"), 3.0)
    assert time.monotonic() - started < 2.0
    assert api.token_requests == 1 and api.received == []


# ----- 4. restart in the middle, and a crashed sender -----------------------------------------------------------------


async def test_outbox_delivers_everything_exactly_once_across_an_api_and_gateway_restart(
    make_client: MakeClient, api: FakeWeChatAPI, tmp_path: Path
) -> None:
    settings = {"wechat_secret": SECRET, "wechat_api_base": api.url}
    before = [f"重启前的回复 {n}（测试）" for n in range(2)]
    during = [f"接口停机时的回复 {n}（测试）" for n in range(3)]

    first = await make_client(**settings)
    for text in before:
        await first.app[WRITER].run(job(openid=OPENID, text=text))
    await asyncio.to_thread(api.wait_for, 2, 5.0, delivered=True)
    await poll(lambda: all(o.status is OutboxStatus.SENT for o in rows(first, OutboxItem)), what="first two SENT")

    api.stop()  # connection refused from now on
    ids = [await first.app[WRITER].run(job(openid=OPENID_2, text=text)) for text in during]

    def retried() -> bool:
        items = {o.id: o for o in rows(first, OutboxItem)}
        return all(items[i].status is OutboxStatus.PENDING and items[i].attempts >= 1 for i in ids)

    await poll(retried, what="refused sends back in PENDING")
    assert all("ConnectionError" in (o.last_error or "") for o in rows(first, OutboxItem) if o.id in ids)
    await first.close()  # the gateway goes down with three replies owed

    # A sender that died mid-send in that process: its row is still leased (SENDING), the lease now ran out.
    crashed_text = "发送中崩溃的回复（测试）"
    engine = db.create_engine(f"sqlite:///{tmp_path / 'humiao.sqlite3'}", writer=True)
    try:
        with Session(engine) as session, session.begin():
            crashed_id = enqueue(
                session, OPENID_2, crashed_text, status=OutboxStatus.SENDING, next_attempt_at=utcnow() - LEASE
            )
        assert [o.status for o in outbox(engine) if o.id in ids] == [OutboxStatus.PENDING] * 3
    finally:
        engine.dispose()
    assert len(api.delivered) == 2

    api.start()  # the same port
    second = await make_client(**settings)  # a new app on the same SQLite file: a new process, in effect
    # Jump the new dispatcher past the backoff of the refused attempts instead of sleeping through it.
    second.app[DISPATCHER].clock = lambda: utcnow() + timedelta(minutes=11)
    await asyncio.to_thread(api.wait_for, 6, 5.0, delivered=True)
    await poll(lambda: all(o.status is OutboxStatus.SENT for o in rows(second, OutboxItem)), what="all SENT")
    assert await second.app[DISPATCHER].run_once() == 0  # nothing owed any more

    assert contents(api.delivered) == Counter(before + during + [crashed_text])  # each exactly once
    by_id = {o.id: o for o in rows(second, OutboxItem)}
    assert by_id[crashed_id].attempts == 1
    assert all(by_id[i].attempts >= 2 for i in ids)  # refused before the restart, delivered after it
    assert {d["touser"] for d in api.delivered if d["text"]["content"] in during} == {OPENID_2}


async def test_expired_lease_of_a_crashed_sender_is_taken_again(
    writer: Writer, engine: Engine, api: FakeWeChatAPI, clock: Clock
) -> None:
    now = clock()
    stale = await writer.run(
        job(
            openid=OPENID,
            text="租约已过期（测试）",
            status=OutboxStatus.SENDING,
            next_attempt_at=now - timedelta(seconds=1),
        )
    )
    live = await writer.run(
        job(openid=OPENID_2, text="租约仍有效（测试）", status=OutboxStatus.SENDING, next_attempt_at=now + LEASE)
    )
    sender = dispatcher(writer, api, clock)
    assert await sender.run_once() == 1
    assert item(engine, stale).status is OutboxStatus.SENT
    assert item(engine, live).status is OutboxStatus.SENDING  # another sender may still be on it
    assert contents(api.delivered) == Counter(["租约已过期（测试）"])
    clock.advance(LEASE)
    assert await sender.run_once() == 1
    assert item(engine, live).status is OutboxStatus.SENT
    assert contents(api.delivered) == Counter(["租约已过期（测试）", "租约仍有效（测试）"])


async def test_held_row_is_released_after_the_passive_hold(
    writer: Writer, engine: Engine, api: FakeWeChatAPI, clock: Clock
) -> None:
    outbox_id = await writer.run(
        job(
            openid=OPENID,
            text="被动回复未送达（测试）",
            status=OutboxStatus.HELD,
            next_attempt_at=clock() + store.PASSIVE_HOLD,
        )
    )
    sender = dispatcher(writer, api, clock)
    assert await sender.run_once() == 0  # WeChat may still retry and take it as the passive reply
    clock.advance(store.PASSIVE_HOLD)
    assert await sender.run_once() == 1
    assert item(engine, outbox_id).status is OutboxStatus.SENT and len(api.delivered) == 1


LONG_REPLY = "\n".join(f"第{n}段：这是一条很长的测试回复，超过两千字节时分段发送。" for n in range(50))


def queue_long_reply(session: Session, now: datetime) -> int:
    """What the gateway writes for a long reply that may still leave passively (``store._queue_outbox``): part 0
    HELD for the passive window, the later parts queued as they are. Returns part 0's id."""
    reply_id = reply_message(session, OPENID, LONG_REPLY)
    ids = []
    for index, part in enumerate(split_utf8(LONG_REPLY)):
        held = index == 0
        row = OutboxItem(
            message_id=reply_id,
            openid=OPENID,
            text=part,
            part=index,
            status=OutboxStatus.HELD if held else OutboxStatus.PENDING,
            attempts=0,
            next_attempt_at=now + store.PASSIVE_HOLD if held else now,
            created_at=now,
        )
        session.add(row)
        session.flush()
        ids.append(row.id)
    return ids[0]


async def drain(sender: Dispatcher, rounds: int = 20) -> None:
    for _ in range(rounds):
        if await sender.run_once() == 0:
            return
    raise AssertionError(f"still sending after {rounds} rounds")


async def test_parts_of_a_long_reply_wait_for_the_first_and_leave_in_order(
    writer: Writer, engine: Engine, api: FakeWeChatAPI, clock: Clock
) -> None:
    parts = split_utf8(LONG_REPLY)
    assert len(parts) >= 3
    held = await writer.run(lambda session: queue_long_reply(session, clock()))
    sender = dispatcher(writer, api, clock)
    # Part 0 may still leave as the passive reply: nothing after it may overtake it.
    assert await sender.run_once() == 0 and api.received == []
    # The handler missed the passive window and released part 0 to the outbox.
    await writer.run(partial(store.release_held, outbox_id=held))
    clock.advance(timedelta(seconds=1))  # release_held stamps the real time
    await drain(sender)
    assert [d["text"]["content"] for d in api.delivered] == parts
    assert all(o.status is OutboxStatus.SENT for o in outbox(engine) if o.text in parts)


async def test_parts_after_a_passive_first_part_leave_in_order(
    writer: Writer, engine: Engine, api: FakeWeChatAPI, clock: Clock
) -> None:
    parts = split_utf8(LONG_REPLY)
    held = await writer.run(lambda session: queue_long_reply(session, clock()))
    assert await writer.run(partial(store.claim_passive, outbox_id=held))  # part 0 went back in the HTTP response
    await drain(dispatcher(writer, api, clock))
    assert [d["text"]["content"] for d in api.delivered] == parts[1:]
    assert item(engine, held).status is OutboxStatus.PASSIVE


async def test_a_backed_off_first_part_holds_the_rest_back(
    writer: Writer, engine: Engine, api: FakeWeChatAPI, clock: Clock
) -> None:
    parts = split_utf8(LONG_REPLY)
    held = await writer.run(lambda session: queue_long_reply(session, clock()))
    await writer.run(partial(store.release_held, outbox_id=held))
    clock.advance(timedelta(seconds=1))
    api.script = ["error"]  # part 0's first try: "system busy"
    await drain(dispatcher(writer, api, clock))
    assert api.delivered == [] and item(engine, held).status is OutboxStatus.PENDING
    clock.advance(backoff(1))
    await drain(dispatcher(writer, api, clock))
    assert [d["text"]["content"] for d in api.delivered] == parts


async def test_the_background_loop_sends_all_parts_without_waiting_an_interval_each(
    writer: Writer, engine: Engine, api: FakeWeChatAPI
) -> None:
    parts = split_utf8(LONG_REPLY)
    held = await writer.run(lambda session: queue_long_reply(session, utcnow()))
    sender = Dispatcher(writer, wechat_sender(APPID, SECRET, api.url, timeout=3.0), interval=30.0)
    sender.start()
    try:
        await writer.run(partial(store.release_held, outbox_id=held))
        sender.wake()
        await asyncio.to_thread(api.wait_for, len(parts), 5.0, delivered=True)
    finally:
        await asyncio.wait_for(sender.stop(), 5.0)  # a stop that never returns would hang the suite
    assert [d["text"]["content"] for d in api.delivered] == parts


# ----- 5. the transition table and backoff ----------------------------------------------------------------------------

S = OutboxStatus
EXPECTED_TRANSITIONS = {
    S.HELD: {S.PASSIVE, S.PENDING, S.SENDING},
    S.PENDING: {S.SENDING},
    S.SENDING: {S.SENT, S.PENDING, S.EXPIRED, S.FAILED, S.SENDING},
    S.SENT: set(),
    S.PASSIVE: set(),
    S.EXPIRED: set(),
    S.FAILED: {S.PENDING},
}


def test_transition_table_is_the_documented_one() -> None:
    assert set(OUTBOX_TRANSITIONS) == set(OutboxStatus)
    assert {k: set(v) for k, v in OUTBOX_TRANSITIONS.items()} == EXPECTED_TRANSITIONS


@pytest.mark.parametrize(("current", "target"), list(itertools.product(OutboxStatus, OutboxStatus)))
def test_every_move_is_allowed_or_refused_by_the_table(current: OutboxStatus, target: OutboxStatus) -> None:
    if target in EXPECTED_TRANSITIONS[current]:
        assert check_transition(current, target) is target
    else:
        with pytest.raises(InvalidTransition):
            check_transition(current, target)


def test_backoff_doubles_from_two_seconds_and_caps_at_ten_minutes() -> None:
    assert [backoff(n).total_seconds() for n in range(1, 13)] == [
        2, 4, 8, 16, 32, 64, 128, 256, 512, 600, 600, 600,
    ]  # fmt: skip
    assert backoff(0) == timedelta(seconds=2)
    assert BACKOFF_MAX_S == 600
    assert backoff(10_000) == timedelta(seconds=600)  # no float overflow, however often an operator retried


# ----- 6. access tokens -----------------------------------------------------------------------------------------------


async def test_token_comes_from_the_configured_base_and_an_expired_one_is_refetched(api: FakeWeChatAPI) -> None:
    send = wechat_sender(APPID, SECRET, api.url, timeout=3.0)
    await asyncio.to_thread(send, OPENID, "第一条（测试）")
    await asyncio.to_thread(send, OPENID, "第二条（测试）")
    assert api.token_requests == 1  # fetched from the fake once, then cached
    api.expire_tokens()
    await asyncio.to_thread(send, OPENID, "第三条（测试）")  # 40001, refetch, retry: transparent
    assert api.token_requests == 2
    assert api.outcomes == Counter({"ok": 3, "40001": 1})
    assert contents(api.delivered) == Counter(["第一条（测试）", "第二条（测试）", "第三条（测试）"])


async def test_a_refused_token_is_a_send_error(api: FakeWeChatAPI) -> None:
    send = wechat_sender(APPID, "wrong-secret", api.url, timeout=3.0)
    with pytest.raises(SendError) as caught:
        await asyncio.to_thread(send, OPENID, "不会送达（测试）")
    assert caught.value.errcode == 40125 and api.token_requests == 1 and api.received == []


async def test_expired_token_through_the_dispatcher(
    writer: Writer, engine: Engine, api: FakeWeChatAPI, clock: Clock
) -> None:
    sender = dispatcher(writer, api, clock)
    first = await writer.run(job(openid=OPENID, text="令牌一（测试）", next_attempt_at=clock()))
    assert await sender.run_once() == 1
    api.expire_tokens()
    second = await writer.run(job(openid=OPENID, text="令牌二（测试）", next_attempt_at=clock()))
    assert await sender.run_once() == 1
    assert item(engine, first).status is item(engine, second).status is OutboxStatus.SENT
    assert item(engine, second).attempts == 1  # the refetch is inside one attempt
    assert api.token_requests == 2
