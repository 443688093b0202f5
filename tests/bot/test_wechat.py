"""``/wechat`` driven by a peer written from the WeChat protocol (``wechat_peer``), not by wechatpy."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from bot.app import create_app
from bot.db.models import Case, Contact, Direction, Message, MessageKind, OutboxItem, OutboxStatus
from bot.handlers import wechat as wechat_handler
from triage import Classifier
from triage.labels import Urgency, Verdict
from triage.queue import CaseStatus

from .conftest import API_SECRET, APPID, MakeClient, queue, rows, settings_with_api
from .fake_wechat_api import FakeWeChatAPI
from .wechat_peer import Mode, WeChatPeer

RED_TEXT = "我今晚就把攒的安眠药全吃了，再见了"
POLICY_QUESTION = "事实无人抚养儿童有什么补助？"


async def push(client: TestClient, peer: WeChatPeer, xml: str, mode: Mode = "aes", **kw: object) -> tuple[int, str]:
    params, body = peer.envelope(xml, mode=mode, **kw)  # type: ignore[arg-type]
    response = await client.post("/wechat", params=params, data=body)
    return response.status, await response.text()


def stored(client: TestClient) -> tuple[int, int, int]:
    return len(rows(client, Message)), len(rows(client, Case)), len(rows(client, Contact))


# ----- URL verification ---------------------------------------------------------------------------------------------


async def test_url_verification_echoes_echostr(make_client: MakeClient, peer: WeChatPeer) -> None:
    client = await make_client()
    query = peer.verify_query("echo-12345")
    response = await client.get("/wechat", params=query)
    assert response.status == 200 and await response.text() == "echo-12345"
    query["signature"] = "0" * 40
    response = await client.get("/wechat", params=query)
    assert response.status == 403


# ----- the three modes ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["plain", "compat", "aes"])
async def test_red_message_gets_safety_reply_fast_and_tops_the_queue(
    make_client: MakeClient, peer: WeChatPeer, mode: Mode
) -> None:
    client = await make_client()
    # Someone else is already waiting with a lower grade.
    await push(client, peer, peer.text("老师总是当着全班的面骂我笨，我不想去上学了", user="o_yellow"), mode)
    started = time.monotonic()
    status, body = await push(client, peer, peer.text(RED_TEXT, user="o_red"), mode)
    elapsed = time.monotonic() - started
    assert status == 200
    assert elapsed < 1.0, f"safety reply took {elapsed:.2f}s"
    reply = peer.read_reply(body, mode=mode)
    assert reply is not None and reply["MsgType"] == "text"
    assert reply["ToUserName"] == "o_red"
    assert "你现在安全吗" in reply["Content"] and "110" in reply["Content"] and "12355" in reply["Content"]
    first = queue(client)[0]
    assert first.urgency is Urgency.RED and first.status is CaseStatus.WAITING


async def test_policy_question_gets_a_cited_answer_and_no_case(make_client: MakeClient, peer: WeChatPeer) -> None:
    client = await make_client()
    status, body = await push(client, peer, peer.text(POLICY_QUESTION))
    assert status == 200
    reply = peer.read_reply(body)
    assert reply is not None
    assert "《" in reply["Content"] and "》" in reply["Content"]  # the cited document
    assert "12355" in reply["Content"]
    assert rows(client, Case) == []


# ----- retries --------------------------------------------------------------------------------------------------------


async def test_retried_red_message_opens_one_case(make_client: MakeClient, peer: WeChatPeer) -> None:
    client = await make_client()
    xml = peer.text(RED_TEXT, user="o_retry")
    # WeChat's three tries, two of them racing the first.
    results = await asyncio.gather(*(push(client, peer, xml) for _ in range(3)))
    assert all(status == 200 for status, _ in results)
    replies = [peer.read_reply(body) for _, body in results]
    contents = [r["Content"] for r in replies if r is not None]
    assert contents, "at least one try gets the passive reply"
    assert all("你现在安全吗" in c for c in contents)
    # A later retry (answered long ago) gets the same reply or success, never a second case.
    status, body = await push(client, peer, xml)
    later = peer.read_reply(body)
    assert status == 200 and (later is None or "你现在安全吗" in later["Content"])
    inbound = [m for m in rows(client, Message) if m.direction is Direction.INBOUND]
    assert len(inbound) == 1
    assert len(rows(client, Case)) == 1
    # The reply reaches the person once: passively, or through the outbox — not both.
    outbox = rows(client, OutboxItem)
    passive = [o for o in outbox if o.status is OutboxStatus.PASSIVE]
    assert len(passive) <= 1 and len(contents) >= 1


async def test_event_retries_dedupe_on_sender_and_create_time(make_client: MakeClient, peer: WeChatPeer) -> None:
    client = await make_client()
    xml = peer.event("subscribe", user="o_new", create_time=1_700_000_000)
    first = await push(client, peer, xml)
    second = await push(client, peer, xml)
    assert first[0] == second[0] == 200
    assert len([m for m in rows(client, Message) if m.kind is MessageKind.EVENT]) == 1


# ----- hostile and broken input: a clear 4xx, nothing stored, server still serving ------------------------------


async def _assert_still_serving(client: TestClient, peer: WeChatPeer) -> None:
    status, body = await push(client, peer, peer.text("你好"))
    assert status == 200 and peer.read_reply(body) is not None


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("bad_signature", 403),
        ("bad_msg_signature", 403),
        ("stale_timestamp", 403),
        ("future_timestamp", 403),
        ("missing_signature", 400),
        ("entity_bomb_plain", 400),
        ("entity_bomb_aes", 400),
        ("external_entity", 400),
        ("malformed_plain", 400),
        ("malformed_aes", 400),
        ("not_base64", 400),
        ("wrong_appid", 400),
        ("empty", 400),
        ("oversized", 413),
        ("no_msgtype", 400),
        ("bad_utf8", 400),
    ],
)
async def test_bad_requests_are_refused_and_store_nothing(
    make_client: MakeClient, peer: WeChatPeer, case: str, expected: int
) -> None:
    client = await make_client()
    now = int(time.time())
    hello = peer.text("有人在吗")
    if case == "bad_signature":
        params, body = peer.envelope(hello, mode="plain")
        params["signature"] = "f" * 40
    elif case == "bad_msg_signature":
        params, body = peer.envelope(hello, mode="aes")
        params["msg_signature"] = "f" * 40
    elif case == "stale_timestamp":
        params, body = peer.envelope(hello, mode="plain", timestamp=now - 301)
    elif case == "future_timestamp":
        params, body = peer.envelope(hello, mode="plain", timestamp=now + 400)
    elif case == "missing_signature":
        params, body = peer.envelope(hello, mode="plain")
        del params["signature"]
    elif case == "entity_bomb_plain":
        params, body = peer.envelope(peer.entity_bomb(), mode="plain")
    elif case == "entity_bomb_aes":
        params, body = peer.envelope(peer.entity_bomb(), mode="aes")
    elif case == "external_entity":
        params, body = peer.envelope(peer.external_entity(), mode="plain")
    elif case == "malformed_plain":
        params, body = peer.envelope(peer.malformed(), mode="plain")
    elif case == "malformed_aes":
        params, body = peer.envelope(peer.malformed(), mode="aes")
    elif case == "not_base64":
        params, body = peer.envelope(hello, mode="aes")
        params["msg_signature"] = peer.signature(params["timestamp"], params["nonce"], "@@not base64@@")
        body = b"<xml><ToUserName><![CDATA[gh]]></ToUserName><Encrypt><![CDATA[@@not base64@@]]></Encrypt></xml>"
    elif case == "wrong_appid":
        encrypt = peer.encrypt(hello, appid="wx_somebody_else")
        params, _ = peer.envelope(hello, mode="aes")
        params["msg_signature"] = peer.signature(params["timestamp"], params["nonce"], encrypt)
        body = f"<xml><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>".encode()
    elif case == "empty":
        params, body = peer.envelope("", mode="plain")
    elif case == "oversized":
        params, body = peer.envelope(peer.oversized(70 * 1024), mode="plain")
    elif case == "no_msgtype":
        params, body = peer.envelope(peer.odd_message("no_msgtype"), mode="plain")
    else:  # bad_utf8
        params, body = peer.envelope(hello, mode="plain")
        body = body.replace("有人".encode(), b"\xff\xfe")
    response = await client.post("/wechat", params=params, data=body)
    assert response.status == expected, await response.text()
    assert stored(client) == (0, 0, 0)
    await _assert_still_serving(client, peer)


# ----- message types ----------------------------------------------------------------------------------------------


async def test_voice_uses_recognition_text(make_client: MakeClient, peer: WeChatPeer) -> None:
    client = await make_client()
    status, body = await push(client, peer, peer.voice(recognition=RED_TEXT))
    reply = peer.read_reply(body)
    assert status == 200 and reply is not None and "你现在安全吗" in reply["Content"]
    status, body = await push(client, peer, peer.voice(recognition=None, user="o_other"))
    reply = peer.read_reply(body)
    assert reply is not None and "打字" in reply["Content"]


async def test_media_attaches_to_the_open_case(make_client: MakeClient, peer: WeChatPeer) -> None:
    client = await make_client()
    await push(client, peer, peer.text("爸爸喝醉了又打我，我的胳膊现在还很疼", user="o_media"))
    [case] = rows(client, Case)
    for xml in (
        peer.image(user="o_media"),
        peer.location(user="o_media"),
        peer.link(user="o_media"),
        peer.video(user="o_media"),
    ):
        status, body = await push(client, peer, xml)
        reply = peer.read_reply(body)
        assert status == 200 and reply is not None and "求助记录" in reply["Content"]
    attached = [m for m in rows(client, Message) if m.case_id == case.id and m.direction is Direction.INBOUND]
    assert len(attached) == 5
    assert len(rows(client, Case)) == 1


async def test_subscribe_menu_and_unsubscribe(make_client: MakeClient, peer: WeChatPeer) -> None:
    client = await make_client()
    _, body = await push(client, peer, peer.event("subscribe", user="o_menu"))
    welcome = peer.read_reply(body)
    assert welcome is not None
    for needle in ("保密", "110", "12355", "转人工"):
        assert needle in welcome["Content"]
    _, body = await push(client, peer, peer.event("CLICK", key="POLICY", user="o_menu"))
    policy = peer.read_reply(body)
    assert policy is not None and "咨询" in policy["Content"]
    _, body = await push(client, peer, peer.event("CLICK", key="HUMAN", user="o_menu"))
    handover = peer.read_reply(body)
    assert handover is not None and "转接" in handover["Content"]
    [case] = rows(client, Case)
    assert case.handover_requested
    status, body = await push(client, peer, peer.event("unsubscribe", user="o_menu"))
    assert status == 200 and peer.read_reply(body) is None
    [contact] = rows(client, Contact)
    assert contact.subscribed is False


async def test_handover_words_reach_a_person(make_client: MakeClient, peer: WeChatPeer) -> None:
    client = await make_client()
    _, body = await push(client, peer, peer.text("转人工", user="o_human"))
    reply = peer.read_reply(body)
    assert reply is not None and "转接" in reply["Content"]
    [case] = queue(client)
    assert case.handover_requested and case.status is CaseStatus.WAITING


async def test_reply_text_cannot_break_out_of_cdata(make_client: MakeClient, peer: WeChatPeer) -> None:
    from wechatpy import parse_message

    from bot.handlers.wechat import render_text_reply

    message = parse_message(peer.text("hi", user="o_x"))
    xml = render_text_reply(message, "a]]><Evil>x</Evil>b")
    reply = peer.read_reply(xml, mode="plain")
    assert reply is not None and reply["Content"] == "a]]><Evil>x</Evil>b" and "Evil" not in reply


# ----- the same path on PostgreSQL (production) ---------------------------------------------------------------------


async def test_on_postgresql_red_reply_retries_and_policy(
    make_client: MakeClient, peer: WeChatPeer, pg_database: str
) -> None:
    client = await make_client(database_url=pg_database)
    xml = peer.text(RED_TEXT, user="o_pg")
    results = await asyncio.gather(*(push(client, peer, xml) for _ in range(3)))
    assert all(status == 200 for status, _ in results)
    assert any((r := peer.read_reply(body)) is not None and "你现在安全吗" in r["Content"] for _, body in results)
    assert len([m for m in rows(client, Message) if m.direction is Direction.INBOUND]) == 1
    [case] = queue(client)
    assert case.urgency is Urgency.RED
    status, body = await push(client, peer, peer.text(POLICY_QUESTION, user="o_pg2"))
    reply = peer.read_reply(body)
    assert status == 200 and reply is not None and "《" in reply["Content"]
    params, bad = peer.envelope(peer.entity_bomb(), mode="plain")
    assert (await client.post("/wechat", params=params, data=bad)).status == 400


# ----- too slow for the 5-second window: success now, the reply through the customer-service API ----------------


class SlowClassifier(Classifier):
    """The real model, slowed down (as if the machine were overloaded)."""

    def __init__(self, inner: Classifier, delay: float) -> None:
        self.__dict__.update(inner.__dict__)
        self._delay = delay

    def classify(self, text: str) -> Verdict:
        time.sleep(self._delay)
        return super().classify(text)


async def test_a_late_reply_leaves_through_the_outbox(
    peer: WeChatPeer,
    aiohttp_client: Any,
    tmp_path: Path,
    classifier: Classifier,
    kb: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(wechat_handler, "REPLY_BUDGET_S", 0.3)
    with FakeWeChatAPI(appid=APPID, secret=API_SECRET) as api:
        settings = settings_with_api(tmp_path, api.url)
        app = create_app(settings, classifier=SlowClassifier(classifier, 1.0), knowledge_base=kb)
        client = await aiohttp_client(app)
        long_red = "我真的撑不下去了。" * 30 + "今晚我就把攒的安眠药全吃了。"  # long: graded off the event loop
        xml = peer.text(long_red, user="o_late")
        started = time.monotonic()
        status, body = await push(client, peer, xml)
        # Not stored inside the window, so receipt is not claimed: WeChat will retry. The work goes on meanwhile.
        assert status == 503
        assert time.monotonic() - started < 0.8
        # The event loop is free meanwhile: a health check answers at once.
        assert (await client.get("/healthz")).status == 200
        delivered = await asyncio.to_thread(api.wait_for, 1, 10.0, delivered=True)
        assert delivered[0]["touser"] == "o_late" and "你现在安全吗" in delivered[0]["text"]["content"]
        # WeChat's retry, after the answer went out, gets "success", not a second copy, and stores nothing new.
        status, body = await push(client, peer, xml)
        assert status == 200 and peer.read_reply(body) is None
        await asyncio.sleep(0.3)
        assert len(api.delivered) == 1
        [item] = rows(client, OutboxItem)
        assert item.status is OutboxStatus.SENT
        assert len(rows(client, Case)) == 1
