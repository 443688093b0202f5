"""The outbox: replies that leave through WeChat's customer-service message API.

Rows are written in the same transaction as the reply they carry, so a
restart loses nothing: the dispatcher picks up whatever is due. Each round it
leases due rows (``SENDING`` with a lease time, so a crashed process's leases
expire and are retried — delivery is at least once), sends each off the event
loop (``asyncio.to_thread`` with a timeout; wechatpy's client is synchronous),
and records the result:

- accepted → ``SENT``;
- errcode 45015 (the person has not written for 48 hours) → ``EXPIRED``:
  recorded, never retried;
- anything else (timeout, network, other errcodes) → back to ``PENDING`` with
  exponential backoff (2 s, 4 s … then every 10 minutes), ``FAILED`` only when
  the next try would fall outside :data:`DELIVERY_WINDOW` (48 hours, WeChat's
  own window for customer-service messages). An outage of the API for hours
  delays a reply; it does not lose it.

Operator replies (a later capability) enter the same table.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any, Protocol

from sqlalchemy import exists, or_, select
from sqlalchemy.orm import Session, aliased

from bot.db.models import OutboxItem, OutboxStatus, as_utc, utcnow
from bot.db.writer import Writer
from bot.logsafe import describe
from triage.queue import InvalidTransition

log = logging.getLogger(__name__)

# WeChat accepts customer-service messages for 48 hours after the person last wrote; a reply is queued when they
# write (or an operator answers them), so past 48 hours from its queueing it can no longer be delivered.
DELIVERY_WINDOW = timedelta(hours=48)
BACKOFF_BASE_S = 2.0
BACKOFF_MAX_S = 600.0
LEASE = timedelta(seconds=60)
SEND_TIMEOUT_S = 10.0
ERR_OUT_OF_WINDOW = 45015

OUTBOX_TRANSITIONS: dict[OutboxStatus, frozenset[OutboxStatus]] = {
    OutboxStatus.HELD: frozenset({OutboxStatus.PASSIVE, OutboxStatus.PENDING, OutboxStatus.SENDING}),
    OutboxStatus.PENDING: frozenset({OutboxStatus.SENDING}),
    OutboxStatus.SENDING: frozenset(
        {OutboxStatus.SENT, OutboxStatus.PENDING, OutboxStatus.EXPIRED, OutboxStatus.FAILED, OutboxStatus.SENDING}
    ),
    OutboxStatus.SENT: frozenset(),
    OutboxStatus.PASSIVE: frozenset(),
    OutboxStatus.EXPIRED: frozenset(),
    OutboxStatus.FAILED: frozenset({OutboxStatus.PENDING}),  # an operator may retry by hand
}


def check_transition(current: OutboxStatus, target: OutboxStatus) -> OutboxStatus:
    if target not in OUTBOX_TRANSITIONS[current]:
        raise InvalidTransition(current, target)
    return target


def backoff(attempts: int) -> timedelta:
    """Delay before attempt ``attempts + 1``: 2 s, 4 s, 8 s … capped at 10 minutes."""
    # The exponent is clamped so that any ``attempts`` works (2.0 * 2 ** 1024 overflows a float).
    return timedelta(seconds=min(BACKOFF_MAX_S, BACKOFF_BASE_S * 2 ** min(max(0, attempts - 1), 32)))


class SendError(Exception):
    """The API refused or could not be reached. ``errcode`` is WeChat's, if it answered."""

    def __init__(self, message: str, errcode: int | None = None) -> None:
        super().__init__(message)
        self.errcode = errcode


class Sender(Protocol):
    """Sends one text message to one OpenID (blocking); raises :class:`SendError`."""

    def __call__(self, openid: str, text: str) -> None: ...


def wechat_sender(appid: str, secret: str, api_base: str, timeout: float = SEND_TIMEOUT_S) -> Sender:
    """A :class:`Sender` over wechatpy's ``WeChatClient``, pointed at ``api_base``.

    ``timeout`` bounds every HTTP call, the access-token fetch included (wechatpy makes that one with no timeout:
    a token endpoint that never answers would otherwise hold a worker thread forever, which asyncio's timeout
    around the thread cannot cancel).
    """
    import requests
    from wechatpy import WeChatClient
    from wechatpy.exceptions import WeChatClientException

    base = api_base.rstrip("/")

    class BoundedSession(requests.Session):
        def request(self, method: str, url: Any, *args: Any, **kwargs: Any) -> Any:
            if kwargs.get("timeout") is None:
                kwargs["timeout"] = timeout
            return super().request(method, url, *args, **kwargs)

    class Client(WeChatClient):
        API_BASE_URL = base + "/cgi-bin/"

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._http = BoundedSession()

        def fetch_access_token(self) -> Any:
            # wechatpy hard-codes api.weixin.qq.com here; use the configured base (tests use a fake).
            return self._fetch_access_token(
                url=base + "/cgi-bin/token",
                params={"grant_type": "client_credential", "appid": self.appid, "secret": self.secret},
            )

    client = Client(appid, secret, timeout=timeout, auto_retry=True)

    def send(openid: str, text: str) -> None:
        try:
            client.message.send_text(openid, text)
        except WeChatClientException as exc:
            raise SendError(f"errcode {exc.errcode}", exc.errcode) from None
        except Exception as exc:  # requests' timeouts and connection errors
            raise SendError(type(exc).__name__) from None

    return send


@dataclass(frozen=True, slots=True)
class Lease:
    id: int
    openid: str
    text: str
    attempts: int


def lease_due(session: Session, limit: int, now: datetime | None = None, lease: timedelta = LEASE) -> list[Lease]:
    """Take up to ``limit`` due rows (PENDING, HELD past its hold, or SENDING with an expired lease).

    A part of a long reply is not due while an earlier part of the same reply is unfinished (HELD, PENDING or
    SENDING): the parts reach the person in order, and none overtakes a first part that may still leave as the
    passive reply or is backing off.
    """
    now = now or utcnow()
    due = or_(
        OutboxItem.status.in_([OutboxStatus.PENDING, OutboxStatus.HELD]),
        OutboxItem.status == OutboxStatus.SENDING,  # its lease (next_attempt_at) ran out: a crashed sender
    )
    earlier = aliased(OutboxItem)
    behind_an_earlier_part = exists().where(
        earlier.message_id == OutboxItem.message_id,
        earlier.part < OutboxItem.part,
        earlier.status.in_([OutboxStatus.HELD, OutboxStatus.PENDING, OutboxStatus.SENDING]),
    )
    query = (
        select(OutboxItem)
        .where(due, OutboxItem.next_attempt_at <= now, ~behind_an_earlier_part)
        .order_by(OutboxItem.next_attempt_at, OutboxItem.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)  # several gateway processes share the outbox
    leases = []
    for item in session.scalars(query):
        item.status = check_transition(item.status, OutboxStatus.SENDING)
        item.next_attempt_at = now + lease
        leases.append(Lease(item.id, item.openid, item.text, item.attempts))
    return leases


def record_result(
    session: Session, outbox_id: int, error: SendError | None, now: datetime | None = None
) -> OutboxStatus:
    now = now or utcnow()
    item = session.get(OutboxItem, outbox_id)
    assert item is not None
    if item.status is not OutboxStatus.SENDING:  # someone else finished it meanwhile
        return item.status
    item.attempts += 1
    if error is None:
        item.status, item.sent_at, item.last_error = check_transition(item.status, OutboxStatus.SENT), now, None
    elif error.errcode == ERR_OUT_OF_WINDOW:
        item.status = check_transition(item.status, OutboxStatus.EXPIRED)
        item.last_error = "45015 outside the 48-hour window"
    elif now + backoff(item.attempts) > as_utc(item.created_at) + DELIVERY_WINDOW:
        item.status, item.last_error = check_transition(item.status, OutboxStatus.FAILED), str(error)[:200]
    else:
        item.status = check_transition(item.status, OutboxStatus.PENDING)
        item.next_attempt_at = now + backoff(item.attempts)
        item.last_error = str(error)[:200]
    return item.status


def counts(session: Session) -> dict[str, int]:
    from sqlalchemy import func

    rows = session.execute(select(OutboxItem.status, func.count()).group_by(OutboxItem.status)).all()
    return {str(status): int(n) for status, n in rows}


class Dispatcher:
    """Background task that drains the outbox."""

    def __init__(
        self,
        writer: Writer,
        sender: Sender | None,
        *,
        interval: float = 1.0,
        batch: int = 20,
        send_timeout: float = SEND_TIMEOUT_S,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.writer = writer
        self.sender = sender
        self.interval = interval
        self.batch = batch
        self.send_timeout = send_timeout
        self.clock = clock
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self.sent = 0

    def start(self) -> None:
        if self.sender is None:
            log.warning("WeChat AppID/secret not set: customer-service replies stay queued in the outbox")
            return
        self._stopping = False
        self._task = asyncio.create_task(self._loop(), name="outbox-dispatcher")

    async def stop(self) -> None:
        if self._task is not None:
            # Python 3.11's asyncio.wait_for can swallow a cancellation that arrives just as the awaited send
            # finishes; the flag (and the wake-up) end the loop anyway instead of leaving stop() waiting forever.
            self._stopping = True
            self._wake.set()
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def wake(self) -> None:
        """Something became due now (e.g. a reply missed its passive window)."""
        self._wake.set()

    async def _loop(self) -> None:
        while not self._stopping:
            self._wake.clear()  # before the round: a wake-up during it means "look again", and is not lost
            try:
                sent = await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.error("outbox round failed: %s", describe(exc))
                sent = 0
            # Nothing was due: wait for the next tick or a wake-up. After a round that sent something, look
            # again at once: the next part of a long reply becomes due only when the one before it is done.
            if sent == 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.interval)

    async def run_once(self) -> int:
        """One round: lease due rows, send them, record results. Returns how many were tried."""
        assert self.sender is not None
        # The lease covers the whole round (its sends go one after another), so another process cannot take a
        # row this one is still about to send.
        round_lease = max(LEASE, timedelta(seconds=self.batch * self.send_timeout + 30))
        leases = await self.writer.run(partial(lease_due, limit=self.batch, now=self.clock(), lease=round_lease))
        for lease in leases:
            if self._stopping:  # the rest stay leased; they are retried when the lease runs out
                break
            error: SendError | None = None
            try:
                await asyncio.wait_for(asyncio.to_thread(self.sender, lease.openid, lease.text), self.send_timeout)
            except SendError as exc:
                error = exc
            except TimeoutError:
                error = SendError("timeout")
            status = await self.writer.run(partial(record_result, outbox_id=lease.id, error=error, now=self.clock()))
            if status is OutboxStatus.SENT:
                self.sent += 1
            else:
                log.info("outbox %d: %s (%s)", lease.id, status, error)
        return len(leases)
