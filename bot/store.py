"""Storage operations of the gateway: plain functions of a SQLAlchemy ``Session``.

They run inside the group-commit writer (``bot.db.writer``) — each call is one
job in a batch — or, for reads, in a worker thread. The per-message path
(:func:`receive`) runs its statements prepared (``bot.db.prepared``) on the
driver's cursor; the rest use Core statements or the ORM.
The conversation policy (``bot.conversation``) decides; these functions only
read the state it needs and write down what it decided.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Connection, CursorResult, Select, Table, bindparam, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from bot import conversation as policy
from bot.db.models import (
    Author,
    Case,
    Channel,
    Contact,
    Conversation,
    Direction,
    Message,
    MessageKind,
    OutboxItem,
    OutboxStatus,
    as_utc,
    utcnow,
)
from bot.db.prepared import Prepared
from knowledge import Answer
from triage.labels import Category, Urgency, Verdict
from triage.queue import CaseStatus, raise_urgency, transition

# A conversation stays the same thread while its case is open or it was active
# within this time; after that a new message starts a new conversation.
CONVERSATION_IDLE = timedelta(hours=24)
# How long a reply may still leave as the passive answer to WeChat's retries
# (three tries, five seconds apart) before the outbox sends it instead.
PASSIVE_HOLD = timedelta(seconds=20)


DEFERRED = "deferred"  # media_ref of a web-chat bot reply that was not returned synchronously


@dataclass(frozen=True, slots=True)
class Inbound:
    """One inbound message, transport-neutral."""

    channel: Channel
    external_id: str  # OpenID or web session id
    kind: MessageKind
    incoming: policy.Incoming
    text: str | None = None  # what is stored (and read by a person)
    dedupe_key: str | None = None
    media_ref: str | None = None


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened to one inbound message."""

    message_id: int
    reply: str | None
    reply_message_id: int | None
    case_id: int | None
    case_opened: bool
    alert: bool
    urgency: Urgency | None
    category: Category | None
    passive_outbox_id: int | None  # the HELD outbox row that may leave as the passive reply
    from_store: bool = False  # True when this is an earlier attempt's outcome, read back for a retry


@dataclass(frozen=True, slots=True)
class Ingested:
    message_id: int
    conversation_id: int
    duplicate: bool
    handled: bool
    outcome: Outcome | None = None  # for a retry of a message already answered: what was decided


# Tables, for Core statements: the gateway's hot path writes with Core, not the ORM unit of work, which costs
# several times more Python per row (measured by bench/gateway: ~5.7 ms of writer time per message with the ORM),
# and its statements run prepared on the driver's cursor (``bot.db.prepared``).
_contacts = cast(Table, Contact.__table__)
_conversations = cast(Table, Conversation.__table__)
_cases = cast(Table, Case.__table__)
_messages = cast(Table, Message.__table__)
_outbox = cast(Table, OutboxItem.__table__)

_STORED = select(_messages.c.id, _messages.c.conversation_id, _messages.c.handled_at)
_FIND_BY_KEY = Prepared(_STORED.where(_messages.c.dedupe_key == bindparam("key")))
_FIND_BY_ID = Prepared(_STORED.where(_messages.c.id == bindparam("id")))
_FIND_CONTACT = select(_contacts.c.id).where(
    _contacts.c.channel == bindparam("channel"), _contacts.c.external_id == bindparam("external_id")
)
_OPEN_CASE = (
    select(_cases.c.id, _cases.c.urgency, _cases.c.status, _cases.c.handover_requested)
    .where(_cases.c.conversation_id == bindparam("conversation_id"), _cases.c.status != CaseStatus.CLOSED)
    .order_by(_cases.c.id.desc())
    .limit(1)
)
_TOUCH_CONVERSATION = (
    update(_conversations)
    .where(_conversations.c.id == bindparam("conversation_id"))
    .values(last_message_at=bindparam("now"))
)

_MESSAGE_COLUMNS = (
    "conversation_id",
    "case_id",
    "direction",
    "author",
    "kind",
    "dedupe_key",
    "text",
    "media_ref",
    "created_at",
    "reply_to_id",
    "handled_at",
    "urgency",
    "category",
    "confidence",
    "signals",
)
_OUTBOX_COLUMNS = ("message_id", "openid", "text", "part", "status", "attempts", "next_attempt_at", "created_at")
_INSERT_MESSAGE = Prepared(
    insert(_messages)
    .values({c: bindparam(c, type_=_messages.c[c].type) for c in _MESSAGE_COLUMNS})
    .returning(_messages.c.id)
)
_INSERT_OUTBOX = Prepared(
    insert(_outbox).values({c: bindparam(c, type_=_outbox.c[c].type) for c in _OUTBOX_COLUMNS}).returning(_outbox.c.id)
)
_CLAIM_PASSIVE = Prepared(
    update(_outbox)
    .where(_outbox.c.id == bindparam("outbox_id"), _outbox.c.status == OutboxStatus.HELD)
    .values(status=OutboxStatus.PASSIVE, sent_at=bindparam("now", type_=_outbox.c.sent_at.type))
)


def _dialect_insert(conn: Connection) -> type[sqlite.Insert] | type[postgresql.Insert]:
    return postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert  # type: ignore[return-value]


def _inserted_id(statement: Prepared, conn: Connection, params: dict[str, Any]) -> int:
    row = statement.first(conn, params)  # INSERT … RETURNING id
    assert row is not None
    return int(row[0])


def _new_id(result: CursorResult[Any]) -> int:
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def _contact_id(conn: Connection, channel: Channel, external_id: str, now: datetime) -> int:
    params = {"channel": channel, "external_id": external_id}
    found = conn.execute(_FIND_CONTACT, params).scalar()
    if found is not None:
        return int(found)
    # ON CONFLICT: another process may create the same contact at the same moment.
    conn.execute(
        _dialect_insert(conn)(_contacts)
        .values(channel=channel, external_id=external_id, created_at=now, last_seen_at=now, subscribed=True)
        .on_conflict_do_nothing()
    )
    return int(conn.execute(_FIND_CONTACT, params).scalar_one())


_conv2, _case2 = _conversations.alias("c2"), _cases.alias("k2")
_latest_conversation = (
    select(func.max(_conv2.c.id)).where(_conv2.c.contact_id == _contacts.c.id).correlate(_contacts).scalar_subquery()
)
_open_case_of_latest = (
    select(func.max(_case2.c.id))
    .where(_case2.c.conversation_id == _conversations.c.id, _case2.c.status != CaseStatus.CLOSED)
    .correlate(_conversations)
    .scalar_subquery()
)
# One round trip for the common case: the contact, its latest conversation and that conversation's open case.
_THREAD = Prepared(
    select(
        _contacts.c.id.label("contact_id"),
        _conversations.c.id.label("conversation_id"),
        _conversations.c.last_message_at,
        _cases.c.id,
        _cases.c.urgency,
        _cases.c.status,
        _cases.c.handover_requested,
    )
    .select_from(_contacts)
    .outerjoin(_conversations, _conversations.c.id == _latest_conversation)
    .outerjoin(_cases, _cases.c.id == _open_case_of_latest)
    .where(_contacts.c.channel == bindparam("channel"), _contacts.c.external_id == bindparam("external_id"))
)
# last_message_at only decides whether a conversation has been idle for 24 hours: refreshing it at most every few
# minutes saves an UPDATE per message at a cost of minutes in that decision.
_TOUCH_EVERY = timedelta(minutes=5)


def _thread_of(
    conn: Connection, channel: Channel, external_id: str, now: datetime
) -> tuple[int, policy.CaseState | None]:
    """(conversation id, its open case or None) for a contact; creates the contact or conversation if needed."""
    row = _THREAD.first(conn, {"channel": channel, "external_id": external_id})
    if row is None:
        contact_id = _contact_id(conn, channel, external_id, now)
    else:
        contact_id, conversation_id, last_message_at, case_id, urgency, status, handover = row
        if conversation_id is not None:
            idle = now - as_utc(last_message_at)
            if case_id is not None or idle < CONVERSATION_IDLE:
                if idle > _TOUCH_EVERY:
                    conn.execute(_TOUCH_CONVERSATION, {"conversation_id": conversation_id, "now": now})
                case = policy.CaseState(case_id, urgency, status, bool(handover)) if case_id is not None else None
                return int(conversation_id), case
    result = conn.execute(insert(_conversations).values(contact_id=contact_id, opened_at=now, last_message_at=now))
    return _new_id(result), None


def ingest(session: Session, inbound: Inbound) -> Ingested:
    """Store an inbound message without answering it (or find the stored one, for a retry).

    The gateway itself stores and answers in one job (:func:`receive`); this is for tools and for tests that
    need a message stored but unanswered, as after a crash in an older version.
    """
    conn = session.connection()
    if inbound.dedupe_key is not None:
        existing = _FIND_BY_KEY.first(conn, {"key": inbound.dedupe_key})
        if existing is not None:
            message_id, conversation_id, handled_at = existing
            return Ingested(message_id, conversation_id, duplicate=True, handled=handled_at is not None)
    now = utcnow()
    conversation_id, _case = _thread_of(conn, inbound.channel, inbound.external_id, now)
    message_id = _insert_inbound(conn, inbound, conversation_id, now, case_id=None, verdict=None, handled=False)
    return Ingested(message_id, conversation_id, duplicate=False, handled=False)


def _insert_message(
    conn: Connection,
    *,
    conversation_id: int,
    case_id: int | None,
    direction: Direction,
    author: Author,
    kind: MessageKind,
    text: str | None,
    created_at: datetime,
    dedupe_key: str | None = None,
    media_ref: str | None = None,
    reply_to_id: int | None = None,
    handled_at: datetime | None = None,
    verdict: Verdict | None = None,
) -> int:
    """One ``messages`` row through the prepared INSERT (which names every column); returns its id."""
    params = {
        "conversation_id": conversation_id,
        "case_id": case_id,
        "direction": direction,
        "author": author,
        "kind": kind,
        "dedupe_key": dedupe_key,
        "text": text,
        "media_ref": media_ref,
        "created_at": created_at,
        "reply_to_id": reply_to_id,
        "handled_at": handled_at,
        **_verdict_columns(verdict),
    }
    return _inserted_id(_INSERT_MESSAGE, conn, params)


def _insert_inbound(
    conn: Connection,
    inbound: Inbound,
    conversation_id: int,
    now: datetime,
    *,
    case_id: int | None,
    verdict: Verdict | None,
    handled: bool,
) -> int:
    return _insert_message(
        conn,
        conversation_id=conversation_id,
        case_id=case_id,
        direction=Direction.INBOUND,
        author=Author.CONTACT,
        kind=inbound.kind,
        text=inbound.text,
        created_at=now,
        dedupe_key=inbound.dedupe_key,
        media_ref=inbound.media_ref,
        handled_at=now if handled else None,
        verdict=verdict,
    )


def _verdict_columns(verdict: Verdict | None) -> dict[str, object]:
    if verdict is None:
        return {"urgency": None, "category": None, "confidence": None, "signals": None}
    return {
        "urgency": verdict.urgency,
        "category": verdict.category,
        "confidence": verdict.confidence,
        "signals": list(verdict.signals),
    }


def receive(
    session: Session,
    inbound: Inbound,
    verdict: Verdict | None,
    answer: Answer | None,
    *,
    passive: bool,
    stored_id: int | None = None,
) -> Outcome:
    """Store an inbound message and its answer in one job: the policy's reply, the case change, the outbox rows.

    ``verdict`` and ``answer`` were computed before (both are pure), so the message, its grade and its reply
    commit together and nothing is acknowledged before that commit. A retry of a message already handled gets
    the stored outcome back. ``stored_id`` answers a message stored earlier without an answer (recovery).
    ``passive`` says whether the reply can still leave as the webhook's passive reply (then its first part is
    HELD in the outbox); otherwise every part is queued for the customer-service API. Runs in the writer.
    """
    conn = session.connection()
    now = utcnow()
    existing_id: int | None = stored_id
    conversation_id: int | None = None
    if inbound.dedupe_key is not None or stored_id is not None:
        if stored_id is None:
            existing = _FIND_BY_KEY.first(conn, {"key": inbound.dedupe_key})
        else:
            existing = _FIND_BY_ID.first(conn, {"id": stored_id})
        if existing is not None:
            found_id, found_conversation, handled_at = existing
            if handled_at is not None:  # a retry of a message already answered
                return _outcome_of(conn, found_id)
            existing_id, conversation_id = found_id, found_conversation
    case: policy.CaseState | None
    if conversation_id is None:
        conversation_id, case = _thread_of(conn, inbound.channel, inbound.external_id, now)
    else:
        row = conn.execute(_OPEN_CASE, {"conversation_id": conversation_id}).first()  # recovery: rare
        case = policy.CaseState(row.id, row.urgency, row.status, row.handover_requested) if row else None
    decision = policy.decide(inbound.incoming, verdict, answer, case)

    case_id: int | None = case.case_id if case is not None else None
    case_opened = False
    if decision.open_case and case is None:
        assert decision.case_urgency is not None and decision.case_category is not None
        result = conn.execute(
            insert(_cases).values(
                conversation_id=conversation_id,
                urgency=decision.case_urgency,
                priority=decision.case_urgency.rank,
                category=decision.case_category,
                status=CaseStatus.WAITING,
                opened_at=now,
                updated_at=now,
                waiting_since=now,
                handover_requested=decision.handover,
            )
        )
        case_id, case_opened = _new_id(result), True
    elif case is not None:
        changes: dict[str, object] = {}
        if decision.case_urgency is not None:
            raised = raise_urgency(case.urgency, decision.case_urgency)
            if raised is not case.urgency:
                changes.update(urgency=raised, priority=raised.rank)
                if decision.case_category is not None:
                    changes["category"] = decision.case_category
        if decision.handover and not case.handover_requested:
            changes["handover_requested"] = True
            if case.status is CaseStatus.FOLLOW_UP:
                changes.update(status=transition(case.status, CaseStatus.WAITING), waiting_since=now)
        if changes:
            conn.execute(update(_cases).where(_cases.c.id == case.case_id).values(updated_at=now, **changes))

    if decision.subscribe or decision.unsubscribe:
        contact = select(_conversations.c.contact_id).where(_conversations.c.id == conversation_id).scalar_subquery()
        conn.execute(update(_contacts).where(_contacts.c.id == contact).values(subscribed=decision.subscribe))

    attached_case = case_id if (decision.attach or case_opened) else None
    if existing_id is None:
        message_id = _insert_inbound(
            conn, inbound, conversation_id, now, case_id=attached_case, verdict=verdict, handled=True
        )
    else:
        message_id = existing_id
        conn.execute(
            update(_messages)
            .where(_messages.c.id == message_id)
            .values(handled_at=now, case_id=attached_case, **_verdict_columns(verdict))
        )

    reply_id: int | None = None
    passive_id: int | None = None
    reply_text = policy.sanitize_reply(decision.reply) if decision.reply else None
    if reply_text:
        wechat = inbound.channel is Channel.WECHAT
        reply_id = _insert_message(
            conn,
            conversation_id=conversation_id,
            case_id=attached_case,
            direction=Direction.OUTBOUND,
            author=Author.BOT,
            kind=MessageKind.TEXT,
            text=reply_text,
            created_at=now,
            media_ref=DEFERRED if not wechat and not passive else None,  # recovery: the page polls for it
            reply_to_id=message_id,
        )
        if wechat:
            passive_id = _queue_outbox(conn, reply_id, inbound.external_id, reply_text, now, hold_first=passive)
    return Outcome(
        message_id=message_id,
        reply=reply_text,
        reply_message_id=reply_id,
        case_id=case_id,
        case_opened=case_opened,
        alert=decision.alert,
        urgency=verdict.urgency if verdict is not None else None,
        category=verdict.category if verdict is not None else None,
        passive_outbox_id=passive_id,
    )


def _queue_outbox(
    conn: Connection, message_id: int, openid: str, text: str, now: datetime, *, hold_first: bool
) -> int | None:
    """Queue a reply's parts; the first is HELD for the passive reply when that is still possible."""
    held_id: int | None = None
    for index, part in enumerate(policy.split_utf8(text)):
        held = hold_first and index == 0
        outbox_id = _inserted_id(
            _INSERT_OUTBOX,
            conn,
            {
                "message_id": message_id,
                "openid": openid,
                "text": part,
                "part": index,
                "status": OutboxStatus.HELD if held else OutboxStatus.PENDING,
                "attempts": 0,
                "next_attempt_at": now + PASSIVE_HOLD if held else now,
                "created_at": now,
            },
        )
        if held:
            held_id = outbox_id
    return held_id


def _outcome_of(conn: Connection, message_id: int) -> Outcome:
    message = conn.execute(
        select(_messages.c.case_id, _messages.c.urgency, _messages.c.category).where(_messages.c.id == message_id)
    ).one()
    reply = conn.execute(
        select(_messages.c.id, _messages.c.text)
        .where(_messages.c.reply_to_id == message_id)
        .order_by(_messages.c.id)
        .limit(1)
    ).first()
    held = None
    if reply is not None:
        held = conn.execute(
            select(_outbox.c.id).where(
                _outbox.c.message_id == reply.id, _outbox.c.part == 0, _outbox.c.status == OutboxStatus.HELD
            )
        ).scalar()
    return Outcome(
        message_id=message_id,
        reply=reply.text if reply is not None else None,
        reply_message_id=reply.id if reply is not None else None,
        case_id=message.case_id,
        case_opened=False,
        alert=False,
        urgency=message.urgency,
        category=message.category,
        passive_outbox_id=held,
        from_store=True,
    )


def stored_outcome(session: Session, message_id: int) -> Outcome | None:
    """For a retry: the outcome recorded for an inbound message, or None if not handled yet."""
    conn = session.connection()
    handled = conn.execute(select(_messages.c.handled_at).where(_messages.c.id == message_id)).scalar()
    return _outcome_of(conn, message_id) if handled is not None else None


def claim_passive(session: Session, outbox_id: int) -> bool:
    """Mark a HELD reply as delivered passively; False if the outbox already released it."""
    return _CLAIM_PASSIVE.rowcount(session.connection(), {"outbox_id": outbox_id, "now": utcnow()}) > 0


def release_held(session: Session, outbox_id: int) -> None:
    """The passive reply did not go out: let the outbox send it now."""
    session.connection().execute(
        update(_outbox)
        .where(_outbox.c.id == outbox_id, _outbox.c.status == OutboxStatus.HELD)
        .values(status=OutboxStatus.PENDING, next_attempt_at=utcnow())
    )


def unhandled_messages(session: Session, limit: int = 500) -> list[tuple[int, int]]:
    """Inbound messages stored but never answered (a crash in between): (message id, conversation id)."""
    rows = session.execute(
        select(Message.id, Message.conversation_id)
        .where(Message.direction == Direction.INBOUND, Message.handled_at.is_(None))
        .order_by(Message.id)
        .limit(limit)
    ).all()
    return [(r.id, r.conversation_id) for r in rows]


def queue_query() -> Select[Case]:
    """Open cases in queue order: most urgent first, then longest waiting."""
    return (
        select(Case)
        .where(Case.status != CaseStatus.CLOSED)
        .order_by(Case.priority.desc(), Case.waiting_since.asc().nulls_last(), Case.id.asc())
    )


def web_updates(session: Session, session_id: str, after: int, limit: int = 50) -> list[Message]:
    """Outbound messages for a web-chat session newer than ``after`` (operator replies and late bot replies)."""
    contact_id = session.scalar(
        select(Contact.id).where(Contact.channel == Channel.WEB, Contact.external_id == session_id)
    )
    if contact_id is None:
        return []
    conversations = select(Conversation.id).where(Conversation.contact_id == contact_id)
    return list(
        session.scalars(
            select(Message)
            .where(
                Message.conversation_id.in_(conversations),
                Message.direction == Direction.OUTBOUND,
                Message.id > after,
                # The page already shows the synchronous bot replies; send only what it has not seen.
                or_(Message.author == Author.OPERATOR, Message.media_ref == DEFERRED),
            )
            .order_by(Message.id)
            .limit(limit)
        )
    )


MEDIA_LABELS = {
    MessageKind.IMAGE: "图片",
    MessageKind.VIDEO: "视频",
    MessageKind.LOCATION: "位置",
    MessageKind.LINK: "链接",
    MessageKind.VOICE: "语音",
    MessageKind.OTHER: "消息",
}


def incoming_for(kind: MessageKind, text: str | None, media_ref: str | None) -> policy.Incoming:
    """What the policy sees of a stored message. Events keep their type (and menu key) in ``media_ref``."""
    if kind in (MessageKind.TEXT, MessageKind.VOICE) and text:
        return policy.Incoming(policy.Kind.TEXT, text)
    if kind is MessageKind.VOICE:
        return policy.Incoming(policy.Kind.VOICE_UNRECOGNISED, media_label=MEDIA_LABELS[kind])
    if kind is MessageKind.EVENT:
        event, _, key = (media_ref or "").partition(":")
        if event == "subscribe":
            return policy.Incoming(policy.Kind.SUBSCRIBE)
        if event == "unsubscribe":
            return policy.Incoming(policy.Kind.UNSUBSCRIBE)
        if event == "click":
            return policy.Incoming(policy.Kind.MENU, menu_key=key)
        return policy.Incoming(policy.Kind.OTHER_EVENT)
    if kind is MessageKind.TEXT:  # empty text
        return policy.Incoming(policy.Kind.TEXT, "")
    return policy.Incoming(policy.Kind.MEDIA, media_label=MEDIA_LABELS.get(kind, "消息"))


def make_inbound(
    channel: Channel,
    external_id: str,
    kind: MessageKind,
    *,
    text: str | None = None,
    dedupe_key: str | None = None,
    media_ref: str | None = None,
) -> Inbound:
    """An :class:`Inbound` whose policy view is derived from what is stored (so recovery sees the same)."""
    return Inbound(channel, external_id, kind, incoming_for(kind, text, media_ref), text, dedupe_key, media_ref)


def inbound_of(session: Session, message_id: int) -> Inbound | None:
    """Rebuild the :class:`Inbound` of a stored message (crash recovery)."""
    row = session.execute(
        select(Message.kind, Message.text, Message.media_ref, Message.dedupe_key, Contact.channel, Contact.external_id)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .join(Contact, Contact.id == Conversation.contact_id)
        .where(Message.id == message_id)
    ).first()
    if row is None:
        return None
    return make_inbound(
        row.channel, row.external_id, row.kind, text=row.text, dedupe_key=row.dedupe_key, media_ref=row.media_ref
    )


def mark_deferred(session: Session, message_id: int) -> None:
    """A web reply the page did not receive synchronously: let ``web_updates`` deliver it."""
    session.execute(update(Message).where(Message.id == message_id).values(media_ref=DEFERRED))
