"""Storage operations of the gateway: plain functions of a SQLAlchemy ``Session``.

They run inside the group-commit writer (``bot.db.writer``) — each call is one
job in a batch, inside its own SAVEPOINT — or, for reads, in a worker thread.
The conversation policy (``bot.conversation``) decides; these functions only
read the state it needs and write down what it decided.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Select, or_, select, update
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
    utcnow,
)
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


def _insert(session: Session) -> type[sqlite.Insert] | type[postgresql.Insert]:
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert  # type: ignore[return-value]


def _contact_id(session: Session, channel: Channel, external_id: str, now: datetime) -> int:
    found = session.scalar(select(Contact.id).where(Contact.channel == channel, Contact.external_id == external_id))
    if found is not None:
        return found
    # ON CONFLICT: another process may create the same contact at the same moment.
    stmt = (
        _insert(session)(Contact)
        .values(channel=channel, external_id=external_id, created_at=now, last_seen_at=now, subscribed=True)
        .on_conflict_do_nothing()
    )
    session.execute(stmt)
    contact_id = session.scalar(
        select(Contact.id).where(Contact.channel == channel, Contact.external_id == external_id)
    )
    assert contact_id is not None
    return contact_id


def _open_case(session: Session, conversation_id: int) -> Case | None:
    return session.scalar(
        select(Case)
        .where(Case.conversation_id == conversation_id, Case.status != CaseStatus.CLOSED)
        .order_by(Case.id.desc())
        .limit(1)
    )


def _conversation_id(session: Session, contact_id: int, now: datetime) -> int:
    row = session.execute(
        select(Conversation.id, Conversation.last_message_at)
        .where(Conversation.contact_id == contact_id)
        .order_by(Conversation.id.desc())
        .limit(1)
    ).first()
    if row is not None:
        conversation_id, last = row
        if last.tzinfo is None:  # SQLite hands back naive datetimes (stored as UTC)
            last = last.replace(tzinfo=now.tzinfo)
        if now - last < CONVERSATION_IDLE or _open_case(session, conversation_id) is not None:
            session.execute(update(Conversation).where(Conversation.id == conversation_id).values(last_message_at=now))
            return int(conversation_id)
    conv = Conversation(contact_id=contact_id, opened_at=now, last_message_at=now)
    session.add(conv)
    session.flush()
    return conv.id


def ingest(session: Session, inbound: Inbound) -> Ingested:
    """Store an inbound message (or find the stored one, for a retry). Runs in the writer."""
    if inbound.dedupe_key is not None:
        existing = session.execute(
            select(Message.id, Message.conversation_id, Message.handled_at).where(
                Message.dedupe_key == inbound.dedupe_key
            )
        ).first()
        if existing is not None:
            return Ingested(
                existing.id, existing.conversation_id, duplicate=True, handled=existing.handled_at is not None
            )
    now = utcnow()
    contact_id = _contact_id(session, inbound.channel, inbound.external_id, now)
    conversation_id = _conversation_id(session, contact_id, now)
    message = Message(
        conversation_id=conversation_id,
        direction=Direction.INBOUND,
        author=Author.CONTACT,
        kind=inbound.kind,
        dedupe_key=inbound.dedupe_key,
        text=inbound.text,
        media_ref=inbound.media_ref,
        created_at=now,
    )
    session.add(message)
    session.flush()
    return Ingested(message.id, conversation_id, duplicate=False, handled=False)


def _case_state(case: Case | None) -> policy.CaseState | None:
    if case is None:
        return None
    return policy.CaseState(case.id, case.urgency, case.status, case.handover_requested)


def apply(
    session: Session,
    inbound: Inbound,
    ingested: Ingested,
    verdict: Verdict | None,
    answer: Answer | None,
    *,
    passive: bool,
) -> Outcome:
    """Run the conversation policy on the current state and write down its decision.

    ``passive`` says whether the reply can still leave as the webhook's passive
    reply (then its first part is HELD in the outbox); otherwise every part is
    queued for the customer-service API. Runs in the writer.
    """
    now = utcnow()
    message = session.get(Message, ingested.message_id)
    assert message is not None
    if message.handled_at is not None:  # a concurrent retry handled it first
        return _outcome_of(session, message)
    case = _open_case(session, ingested.conversation_id)
    decision = policy.decide(inbound.incoming, verdict, answer, _case_state(case))

    case_opened = False
    if decision.open_case and case is None:
        assert decision.case_urgency is not None and decision.case_category is not None
        case = Case(
            conversation_id=ingested.conversation_id,
            urgency=decision.case_urgency,
            priority=decision.case_urgency.rank,
            category=decision.case_category,
            status=CaseStatus.WAITING,
            opened_at=now,
            updated_at=now,
            waiting_since=now,
            handover_requested=decision.handover,
        )
        session.add(case)
        session.flush()
        case_opened = True
    elif case is not None:
        if decision.case_urgency is not None:
            raised = raise_urgency(case.urgency, decision.case_urgency)
            if raised is not case.urgency:
                case.urgency, case.priority, case.updated_at = raised, raised.rank, now
                if decision.case_category is not None:
                    case.category = decision.case_category
        if decision.handover and not case.handover_requested:
            case.handover_requested = True
            case.updated_at = now
            if case.status is CaseStatus.FOLLOW_UP:
                case.status = transition(case.status, CaseStatus.WAITING)
                case.waiting_since = now

    if decision.subscribe or decision.unsubscribe:
        session.execute(
            update(Contact)
            .where(
                Contact.id
                == select(Conversation.contact_id).where(Conversation.id == ingested.conversation_id).scalar_subquery()
            )
            .values(subscribed=decision.subscribe)
        )

    message.handled_at = now
    if verdict is not None:
        message.urgency, message.category = verdict.urgency, verdict.category
        message.confidence, message.signals = verdict.confidence, list(verdict.signals)
    if case is not None and (decision.attach or case_opened):
        message.case_id = case.id

    reply_id: int | None = None
    passive_id: int | None = None
    if decision.reply:
        text = policy.sanitize_reply(decision.reply)
        reply = Message(
            conversation_id=ingested.conversation_id,
            case_id=message.case_id,
            direction=Direction.OUTBOUND,
            author=Author.BOT,
            kind=MessageKind.TEXT,
            text=text,
            created_at=now,
            reply_to_id=message.id,
        )
        session.add(reply)
        session.flush()
        reply_id = reply.id
        if inbound.channel is Channel.WECHAT:
            passive_id = _queue_outbox(session, reply.id, inbound.external_id, text, now, hold_first=passive)
        elif not passive:
            # A web reply nobody is waiting for (recovery after a crash): the page picks it up by polling.
            reply.media_ref = DEFERRED
    return Outcome(
        message_id=message.id,
        reply=decision.reply and policy.sanitize_reply(decision.reply),
        reply_message_id=reply_id,
        case_id=case.id if case is not None else None,
        case_opened=case_opened,
        alert=decision.alert,
        urgency=verdict.urgency if verdict is not None else None,
        category=verdict.category if verdict is not None else None,
        passive_outbox_id=passive_id,
    )


def _queue_outbox(
    session: Session, message_id: int, openid: str, text: str, now: datetime, *, hold_first: bool
) -> int | None:
    """Queue a reply's parts; the first is HELD for the passive reply when that is still possible."""
    held_id: int | None = None
    for index, part in enumerate(policy.split_utf8(text)):
        held = hold_first and index == 0
        item = OutboxItem(
            message_id=message_id,
            openid=openid,
            text=part,
            part=index,
            status=OutboxStatus.HELD if held else OutboxStatus.PENDING,
            attempts=0,
            next_attempt_at=now + PASSIVE_HOLD if held else now,
            created_at=now,
        )
        session.add(item)
        if held:
            session.flush()
            held_id = item.id
    return held_id


def _outcome_of(session: Session, message: Message) -> Outcome:
    reply = session.execute(
        select(Message.id, Message.text).where(Message.reply_to_id == message.id).order_by(Message.id).limit(1)
    ).first()
    held = None
    if reply is not None:
        held = session.scalar(
            select(OutboxItem.id).where(
                OutboxItem.message_id == reply.id, OutboxItem.part == 0, OutboxItem.status == OutboxStatus.HELD
            )
        )
    return Outcome(
        message_id=message.id,
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
    message = session.get(Message, message_id)
    if message is None or message.handled_at is None:
        return None
    return _outcome_of(session, message)


def claim_passive(session: Session, outbox_id: int) -> bool:
    """Mark a HELD reply as delivered passively; False if the outbox already released it."""
    result = session.execute(
        update(OutboxItem)
        .where(OutboxItem.id == outbox_id, OutboxItem.status == OutboxStatus.HELD)
        .values(status=OutboxStatus.PASSIVE, sent_at=utcnow())
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def release_held(session: Session, outbox_id: int) -> None:
    """The passive reply did not go out: let the outbox send it now."""
    session.execute(
        update(OutboxItem)
        .where(OutboxItem.id == outbox_id, OutboxItem.status == OutboxStatus.HELD)
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
