"""The web chat: ``POST /api/chat``, ``GET /api/chat/updates`` and the ``/chat`` page."""

from __future__ import annotations

import re
from functools import partial
from pathlib import Path

from aiohttp.test_utils import TestClient
from sqlalchemy.orm import Session

from bot.db.models import Author, Case, Direction, Message
from bot.keys import WRITER
from triage.labels import Urgency

from .conftest import MakeClient, queue, rows

SESSION = "s_0123456789abcdef"


async def say(client: TestClient, text: object, session: object = SESSION) -> tuple[int, dict[str, object]]:
    response = await client.post("/api/chat", json={"session": session, "text": text})
    return response.status, await response.json()


async def test_red_message_contract_and_queue(make_client: MakeClient) -> None:
    client = await make_client()
    status, body = await say(client, "他又拿刀追着我，我躲在厕所里，门快被踹开了")
    assert status == 200
    assert set(body) >= {"reply", "urgency", "category", "case_id"}
    assert body["urgency"] == "red" and isinstance(body["case_id"], int)
    assert "你现在安全吗" in str(body["reply"])
    [first, *_] = queue(client)
    assert first.id == body["case_id"] and first.urgency is Urgency.RED


async def test_policy_question_has_no_case(make_client: MakeClient) -> None:
    client = await make_client()
    status, body = await say(client, "被家暴了可以申请人身安全保护令吗？")
    assert status == 200 and body["case_id"] is None and body["urgency"] == "blue"
    assert "《" in str(body["reply"])


async def test_later_messages_attach_to_the_case_and_only_raise_it(make_client: MakeClient) -> None:
    client = await make_client()
    _, first = await say(client, "同学天天在班级群里骂我、P我的丑照，我好难受")
    assert first["case_id"] is not None
    level = first["urgency"]
    _, second = await say(client, "谢谢你")
    assert second["case_id"] == first["case_id"]
    _, third = await say(client, "我不想活了，今晚就从楼上跳下去")
    assert third["case_id"] == first["case_id"] and third["urgency"] == "red"
    [case] = rows(client, Case)
    assert case.urgency is Urgency.RED and level != "red"
    assert len([m for m in rows(client, Message) if m.direction is Direction.INBOUND]) == 3


async def test_operator_owned_conversation_gets_no_bot_replies_except_red(make_client: MakeClient) -> None:
    client = await make_client()
    _, first = await say(client, "转人工")
    case_id = first["case_id"]
    assert isinstance(case_id, int)

    def claim(session: Session) -> None:
        from triage.queue import CaseStatus, transition

        case = session.get(Case, case_id)
        assert case is not None
        case.status = transition(case.status, CaseStatus.CLAIMED)
        case.assignee = "op_test"

    await client.app[WRITER].run(claim)
    _, quiet = await say(client, "好的，我等你们")
    assert quiet["reply"] == "" and quiet["case_id"] == case_id
    _, red = await say(client, "我现在就在天台上，准备跳下去了")
    assert "你现在安全吗" in str(red["reply"])


async def test_bad_requests(make_client: MakeClient) -> None:
    client = await make_client()
    for payload, expected in [
        ({"session": SESSION, "text": ""}, 400),
        ({"session": SESSION, "text": "   "}, 400),
        ({"session": "short", "text": "你好"}, 400),
        ({"session": "<script>alert(1)</script>xx", "text": "你好"}, 400),
        ({"session": SESSION, "text": 5}, 400),
        ({"session": SESSION, "text": "字" * 2001}, 413),
        (["not", "an", "object"], 400),
    ]:
        response = await client.post("/api/chat", json=payload)
        assert response.status == expected, payload
        assert "error" in await response.json()
    response = await client.post("/api/chat", data=b"{not json", headers={"Content-Type": "application/json"})
    assert response.status == 400
    assert rows(client, Message) == []


async def test_rate_limit_per_session(make_client: MakeClient) -> None:
    client = await make_client()
    statuses = [(await say(client, f"你好{i}", session="s_ratelimit_0001"))[0] for i in range(12)]
    assert statuses[:8] == [200] * 8 and 429 in statuses[8:]
    other, _ = await say(client, "你好", session="s_ratelimit_0002")
    assert other == 200


async def test_updates_return_operator_replies_only(make_client: MakeClient) -> None:
    client = await make_client()
    _, first = await say(client, "转人工")
    case_id = first["case_id"]
    kind = rows(client, Message)[0].kind

    def operator_reply(session: Session) -> None:
        case = session.get(Case, case_id)
        assert case is not None
        session.add(
            Message(
                conversation_id=case.conversation_id,
                case_id=case.id,
                direction=Direction.OUTBOUND,
                author=Author.OPERATOR,
                kind=kind,
                text="<b>我是12355的老师</b>",
                operator="op_test",
            )
        )

    await client.app[WRITER].run(partial(operator_reply))
    response = await client.get("/api/chat/updates", params={"session": SESSION, "after": "0"})
    body = await response.json()
    assert [m["text"] for m in body["messages"]] == ["<b>我是12355的老师</b>"]  # JSON, rendered as text by the page
    assert body["messages"][0]["from"] == "operator"
    response = await client.get("/api/chat/updates", params={"session": "bad", "after": "0"})
    assert response.status == 400


async def test_chat_page(make_client: MakeClient) -> None:
    client = await make_client()
    response = await client.get("/chat")
    assert response.status == 200
    html = await response.text()
    assert "110" in html and "12355" in html and "转人工" in html
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
    assert response.headers["Cache-Control"] == "no-store"
    for src in re.findall(r'(?:src|href)="(/static/[^"?]+)', html):
        assert (await client.get(src)).status == 200


def test_chat_script_never_renders_html() -> None:
    """Every user or server string reaches the page as text: no HTML sinks in the script."""
    script = (Path(__file__).resolve().parents[2] / "bot" / "static" / "chat.js").read_text(encoding="utf-8")
    code = "\n".join(line for line in script.splitlines() if not line.strip().startswith(("*", "/*", "//")))
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
        assert sink not in code
    assert "textContent" in code
