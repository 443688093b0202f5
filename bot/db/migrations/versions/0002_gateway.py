"""gateway storage: contacts, conversations, messages, cases and the outbox

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "contacts",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("channel", sa.Enum("wechat", "web", name="channel", native_enum=False, length=24), nullable=False),
        sa.Column("external_id", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("subscribed", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("uq_contacts_channel_external", "contacts", ["channel", "external_id"], unique=True)
    op.create_table(
        "conversations",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("contact_id", BigId, nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_message_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_conversations_contact_id"), "conversations", ["contact_id"], unique=False)
    op.create_table(
        "cases",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("conversation_id", BigId, nullable=False),
        sa.Column(
            "urgency",
            sa.Enum("blue", "yellow", "orange", "red", name="urgency", native_enum=False, length=24),
            nullable=False,
        ),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column(
            "category",
            sa.Enum(
                "suicide_selfharm",
                "family_violence",
                "sexual_abuse",
                "school_violence",
                "cyber",
                "neglect",
                "missing",
                "education",
                "exploitation",
                "mental_health",
                "environment",
                "delinquency",
                "policy",
                "other",
                name="category",
                native_enum=False,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column(
            "status",
            sa.Enum(
                "waiting",
                "claimed",
                "referred",
                "follow_up",
                "closed",
                name="case_status",
                native_enum=False,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("assignee", sa.String(length=64), nullable=True),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("waiting_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("first_response_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("handover_requested", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_cases_conversation_id"), "cases", ["conversation_id"], unique=False)
    op.create_index("ix_cases_queue", "cases", ["status", "priority", "waiting_since"], unique=False)
    op.create_table(
        "messages",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("conversation_id", BigId, nullable=False),
        sa.Column("case_id", BigId, nullable=True),
        sa.Column("direction", sa.Enum("in", "out", name="direction", native_enum=False, length=24), nullable=False),
        sa.Column(
            "author", sa.Enum("contact", "bot", "operator", name="author", native_enum=False, length=24), nullable=False
        ),
        sa.Column(
            "kind",
            sa.Enum(
                "text",
                "voice",
                "image",
                "video",
                "location",
                "link",
                "event",
                "other",
                name="message_kind",
                native_enum=False,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("dedupe_key", sa.String(length=160), nullable=True),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("media_ref", sa.String(length=256), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reply_to_id", BigId, nullable=True),
        sa.Column("handled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "urgency",
            sa.Enum("blue", "yellow", "orange", "red", name="urgency", native_enum=False, length=24),
            nullable=True,
        ),
        sa.Column(
            "category",
            sa.Enum(
                "suicide_selfharm",
                "family_violence",
                "sexual_abuse",
                "school_violence",
                "cyber",
                "neglect",
                "missing",
                "education",
                "exploitation",
                "mental_health",
                "environment",
                "delinquency",
                "policy",
                "other",
                name="category",
                native_enum=False,
                length=24,
            ),
            nullable=True,
        ),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("signals", sa.JSON(), nullable=True),
        sa.Column("operator", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
        ),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
        ),
        sa.ForeignKeyConstraint(
            ["reply_to_id"],
            ["messages.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("dedupe_key"),
    )
    op.create_index(op.f("ix_messages_case_id"), "messages", ["case_id"], unique=False)
    op.create_index("ix_messages_conversation", "messages", ["conversation_id", "id"], unique=False)
    op.create_index(op.f("ix_messages_reply_to_id"), "messages", ["reply_to_id"], unique=False)
    op.create_table(
        "outbox",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("message_id", BigId, nullable=False),
        sa.Column("openid", sa.String(length=128), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("part", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "held",
                "pending",
                "sending",
                "sent",
                "passive",
                "expired",
                "failed",
                name="outbox_status",
                native_enum=False,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["messages.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_outbox_due", "outbox", ["status", "next_attempt_at"], unique=False)
    op.create_index(op.f("ix_outbox_message_id"), "outbox", ["message_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_outbox_message_id", table_name="outbox")
    op.drop_index("ix_outbox_due", table_name="outbox")
    op.drop_table("outbox")
    op.drop_index("ix_messages_reply_to_id", table_name="messages")
    op.drop_index("ix_messages_conversation", table_name="messages")
    op.drop_index("ix_messages_case_id", table_name="messages")
    op.drop_table("messages")
    op.drop_index("ix_cases_queue", table_name="cases")
    op.drop_index("ix_cases_conversation_id", table_name="cases")
    op.drop_table("cases")
    op.drop_index("ix_conversations_contact_id", table_name="conversations")
    op.drop_table("conversations")
    op.drop_index("uq_contacts_channel_external", table_name="contacts")
    op.drop_table("contacts")
