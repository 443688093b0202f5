"""What the gateway writes to its logs never holds a message's text or a person's id, whatever happens.

Every logger is captured at DEBUG while messages go through every path that logs: a red alert, a classifier
failure, a malformed body, a reply that leaves through the outbox, a failing customer-service API. aiohttp's
access log is left out: ``humiao serve`` runs without one.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest

from bot.app import create_app
from bot.db.models import Case
from bot.handlers import wechat as wechat_handler
from bot.logsafe import describe
from triage import Classifier

from .conftest import API_SECRET, APPID, queue, settings_with_api
from .fake_wechat_api import FakeWeChatAPI
from .wechat_peer import WeChatPeer

# Invented, and distinctive enough that any appearance in a log line is a leak.
SECRET_RED = "我叫林小满住在光明路七号今晚就把攒的安眠药全吃了"
SECRET_POLICY = "林小满想问未成年人是指多大年纪以下的人"
SECRET_BROKEN = "林小满的半截消息"
OPENID = "o_privacy_lin_xiaoman_0001"
WEB_SESSION = "s_privacy_lin_xiaoman_0001"
SECRETS = ("林小满", "光明路", OPENID, WEB_SESSION)


class FailsOnOne(Classifier):
    """The real model, except that it fails on one text, with the text in its exception (a careless bug)."""

    def __init__(self, real: Classifier) -> None:
        self.real = real

    def classify(self, text: str) -> Any:
        if "半截" in text:
            raise ValueError(f"cannot grade {text!r}")
        return self.real.classify(text)


def _logged(records: list[logging.LogRecord]) -> str:
    formatter = logging.Formatter()
    lines = []
    for record in records:
        if record.name.startswith("aiohttp.access"):
            continue
        lines.append(record.getMessage())
        if record.exc_info:
            lines.append(formatter.formatException(record.exc_info))
    return "\n".join(lines)


async def test_logs_hold_no_message_text_and_no_ids(
    caplog: pytest.LogCaptureFixture,
    aiohttp_client: Any,
    tmp_path: Path,
    classifier: Classifier,
    kb: Any,
    peer: WeChatPeer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    caplog.set_level(logging.DEBUG)
    with FakeWeChatAPI(appid=APPID, secret=API_SECRET, mode="error") as api:
        settings = settings_with_api(tmp_path, api.url)
        client = await aiohttp_client(create_app(settings, classifier=FailsOnOne(classifier), knowledge_base=kb))
        for text, mode in ((SECRET_RED, "aes"), (SECRET_POLICY, "plain"), (SECRET_BROKEN, "plain")):
            params, body = peer.envelope(peer.text(text, user=OPENID), mode=mode)  # type: ignore[arg-type]
            assert (await client.post("/wechat", params=params, data=body)).status == 200
        # A body that does not parse, with text in it.
        params, body = peer.envelope(peer.text(SECRET_RED, user=OPENID))
        assert (await client.post("/wechat", params=params, data=body.replace(b"</xml>", b""))).status == 400
        # The web chat, and a page polling for updates.
        response = await client.post("/api/chat", json={"session": WEB_SESSION, "text": SECRET_RED})
        assert response.status == 200 and (await response.json())["urgency"] == "red"
        await client.get("/api/chat/updates", params={"session": WEB_SESSION, "after": "0"})
        # A reply too late for the passive window leaves through the outbox, and the API refuses it.
        monkeypatch.setattr(wechat_handler, "REPLY_BUDGET_S", 0.0)
        params, body = peer.envelope(peer.text(SECRET_RED + "。", user=OPENID))
        assert (await client.post("/wechat", params=params, data=body)).status == 503
        await asyncio.to_thread(api.wait_for, 1, 10.0)
        await asyncio.sleep(0.2)
    cases: list[Case] = queue(client)
    assert any(c.urgency.value == "red" for c in cases)  # the paths above did run
    logged = _logged(caplog.records)
    assert "red alert" in logged and "classifier failed" in logged and "rejected a malformed" in logged
    assert "outbox" in logged and "errcode" in logged
    for secret in SECRETS:
        assert secret not in logged, f"{secret!r} reached the logs"


def test_a_failure_is_described_by_type_and_place_never_by_message() -> None:
    def parse(text: str) -> None:
        raise ValueError(f"cannot parse {text!r}")

    def handle(text: str) -> None:
        try:
            parse(text)
        except ValueError as exc:
            raise RuntimeError(f"handling {text!r} failed") from exc

    try:
        handle(SECRET_RED)
    except RuntimeError as exc:
        described = describe(exc)
    assert described.startswith("builtins.RuntimeError at test_privacy.py:")
    assert "handle" in described and "builtins.ValueError" in described and " parse" in described
    assert "林小满" not in described and "光明路" not in described
