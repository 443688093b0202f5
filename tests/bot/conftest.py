"""Fixtures for driving the whole gateway: one classifier and knowledge base per test session, an app per test."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

import knowledge
from bot import store
from bot.app import create_app
from bot.db.models import Case, Channel, Contact, Conversation, Message, OutboxItem
from bot.keys import ENGINE
from bot.settings import Settings
from triage import Classifier

from .wechat_peer import WeChatPeer, random_aes_key

TOKEN = "test-token-humiao"
APPID = "wx0123456789abcdef"
AES_KEY = random_aes_key()

MakeClient = Callable[..., Awaitable[TestClient]]


def new_conversation(session: Session, channel: Channel, external_id: str) -> int:
    """A new conversation of the contact ``channel``/``external_id`` (created if needed), written with the models
    alone, for tests about what comes after it; returns its id."""
    contact_id = session.scalar(
        select(Contact.id).where(Contact.channel == channel, Contact.external_id == external_id)
    )
    if contact_id is None:
        contact = Contact(channel=channel, external_id=external_id)
        session.add(contact)
        session.flush()
        contact_id = contact.id
    conversation = Conversation(contact_id=contact_id)
    session.add(conversation)
    session.flush()
    return conversation.id


API_SECRET = "s3cret"


def settings_with_api(data_dir: Path, api_url: str) -> Settings:
    """A gateway's settings in every WeChat mode, sending customer-service messages to ``api_url`` (a fake)."""
    return Settings(
        data_dir=data_dir,
        wechat_token=TOKEN,
        wechat_aes_key=AES_KEY,
        wechat_appid=APPID,
        wechat_secret=API_SECRET,
        wechat_api_base=api_url,
        outbox_interval=0.05,
    )


@pytest.fixture(scope="session")
def classifier() -> Classifier:
    return Classifier.load()


@pytest.fixture
def make_client(aiohttp_client: Any, tmp_path: Path, classifier: Classifier, kb: knowledge.KnowledgeBase) -> MakeClient:
    """``await make_client(**settings)``: a test client for a gateway with its own SQLite database."""

    async def make(**overrides: Any) -> TestClient:
        base = Settings(
            data_dir=tmp_path,
            wechat_token=TOKEN,
            wechat_aes_key=AES_KEY,
            wechat_appid=APPID,
            outbox_interval=0.05,
        )
        app = create_app(replace(base, **overrides), classifier=classifier, knowledge_base=kb)
        client: TestClient = await aiohttp_client(app)
        return client

    return make


@pytest.fixture
def peer() -> WeChatPeer:
    return WeChatPeer(token=TOKEN, appid=APPID, aes_key=AES_KEY)


def rows(client: TestClient, model: type[Any]) -> list[Any]:
    """All rows of ``model`` in the client's database (read in the test's thread; fine for a test)."""
    with Session(client.app[ENGINE]) as session:
        return list(session.scalars(select(model).order_by(model.id)))


def queue(client: TestClient) -> list[Case]:
    with Session(client.app[ENGINE]) as session:
        return list(session.scalars(store.queue_query()))


__all__ = ["APPID", "TOKEN", "Case", "MakeClient", "Message", "OutboxItem", "queue", "rows"]
