"""ORM models. Typed with ``Mapped``; ``X | None`` exactly where a column is nullable.

Minimum storage: a contact is a channel and an opaque external id (a WeChat
OpenID or a web-chat session id) — no names, phone numbers or IP addresses.
Message text is kept because a person has to read it; it is never logged.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import JSON, BigInteger, DateTime, Enum, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from triage.labels import Category, Urgency
from triage.queue import CaseStatus

# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets BIGINT.
BigId = BigInteger().with_variant(Integer(), "sqlite")


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """A stored timestamp as an aware UTC datetime (SQLite hands them back naive, in UTC)."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


class Channel(StrEnum):
    WECHAT = "wechat"
    WEB = "web"


class Direction(StrEnum):
    INBOUND = "in"
    OUTBOUND = "out"


class MessageKind(StrEnum):
    TEXT = "text"
    VOICE = "voice"
    IMAGE = "image"
    VIDEO = "video"
    LOCATION = "location"
    LINK = "link"
    EVENT = "event"
    OTHER = "other"


class Author(StrEnum):
    CONTACT = "contact"
    BOT = "bot"
    OPERATOR = "operator"


class OutboxStatus(StrEnum):
    """Delivery state of one outbound WeChat message (see ``bot.outbox``)."""

    HELD = "held"  # may still leave as the passive reply; released after the retry window
    PENDING = "pending"  # to be sent through the customer-service API
    SENDING = "sending"  # a dispatcher has leased it
    SENT = "sent"  # the API accepted it
    PASSIVE = "passive"  # it left as the passive reply to the webhook call
    EXPIRED = "expired"  # errcode 45015: outside the 48-hour window; recorded, not retried
    FAILED = "failed"  # gave up after the retry schedule


def _enum(enum: type[StrEnum], name: str) -> Enum:
    # VARCHAR + CHECK rather than native enum types: the same on SQLite and
    # PostgreSQL, and adding a value later is a plain migration.
    return Enum(enum, name=name, native_enum=False, length=24, values_callable=lambda e: [m.value for m in e])


class Base(DeclarativeBase):
    pass


class AuditEvent(Base):
    """Who did or viewed what, and when. Details never hold message text."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    subject_type: Mapped[str] = mapped_column(String(32))
    subject_id: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict[str, object] | None] = mapped_column(JSON)


class Contact(Base):
    """Someone who writes to us on one channel, known only by an opaque id."""

    __tablename__ = "contacts"
    __table_args__ = (Index("uq_contacts_channel_external", "channel", "external_id", unique=True),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    channel: Mapped[Channel] = mapped_column(_enum(Channel, "channel"))
    external_id: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    subscribed: Mapped[bool] = mapped_column(default=True)


class Conversation(Base):
    """A contact's thread with the service; later messages attach to its open case."""

    __tablename__ = "conversations"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), index=True)
    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_message_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Case(Base):
    """Work for the hotline: one per conversation at a time, ordered by urgency then wait."""

    __tablename__ = "cases"
    __table_args__ = (Index("ix_cases_queue", "status", "priority", "waiting_since"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"), index=True)
    urgency: Mapped[Urgency] = mapped_column(_enum(Urgency, "urgency"))
    # urgency's rank (red 3 … blue 0), so the queue orders by an indexed integer.
    priority: Mapped[int] = mapped_column(Integer)
    category: Mapped[Category] = mapped_column(_enum(Category, "category"))
    status: Mapped[CaseStatus] = mapped_column(_enum(CaseStatus, "case_status"))
    assignee: Mapped[str | None] = mapped_column(String(64))
    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    waiting_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    first_response_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    handover_requested: Mapped[bool] = mapped_column(default=False)


class Message(Base):
    """One message in or out. Inbound rows are written before anything is answered."""

    __tablename__ = "messages"
    __table_args__ = (Index("ix_messages_conversation", "conversation_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    direction: Mapped[Direction] = mapped_column(_enum(Direction, "direction"))
    author: Mapped[Author] = mapped_column(_enum(Author, "author"))
    kind: Mapped[MessageKind] = mapped_column(_enum(MessageKind, "message_kind"))
    # Retries of one WeChat delivery share this key (MsgId; events FromUserName+CreateTime).
    dedupe_key: Mapped[str | None] = mapped_column(String(160), unique=True)
    text: Mapped[str | None] = mapped_column(Text)
    media_ref: Mapped[str | None] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    reply_to_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"), index=True)
    # Set on inbound rows once graded and answered; NULL rows are re-run after a crash.
    handled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    urgency: Mapped[Urgency | None] = mapped_column(_enum(Urgency, "urgency"))
    category: Mapped[Category | None] = mapped_column(_enum(Category, "category"))
    confidence: Mapped[float | None] = mapped_column(Float)
    signals: Mapped[list[str] | None] = mapped_column(JSON)
    operator: Mapped[str | None] = mapped_column(String(64))


class OutboxItem(Base):
    """An outbound WeChat message waiting to leave through the customer-service API."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"), index=True)
    openid: Mapped[str] = mapped_column(String(128))
    text: Mapped[str] = mapped_column(Text)
    part: Mapped[int] = mapped_column(Integer, default=0)  # index of a 2,048-byte part
    status: Mapped[OutboxStatus] = mapped_column(_enum(OutboxStatus, "outbox_status"))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(String(200))
