"""Web chat: ``GET /chat`` (a small mobile page in WeChat's look) and its JSON API.

``POST /api/chat`` takes ``{"session", "text"}`` and returns ``{"reply",
"urgency", "category", "case_id"}`` (plus ``message_id``); ``GET
/api/chat/updates`` returns replies the page has not seen (an operator's, or
a bot reply that was late). The session id is an opaque random string made by
the page; it is the only identity stored.
"""

from __future__ import annotations

import asyncio
import json
import re
from functools import partial
from pathlib import Path

import jinja2
from aiohttp import web

from bot import db, store
from bot.db.models import Author, Channel, MessageKind
from bot.db.writer import Writer
from bot.keys import CHAT_LIMITER, ENGINE, GATEWAY, SETTINGS

routes = web.RouteTableDef()

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
STATIC = Path(__file__).resolve().parent.parent / "static"
MAX_TEXT_CHARS = 2000
REPLY_TIMEOUT_S = 10.0
SESSION_RE = re.compile(r"^[A-Za-z0-9_-]{8,128}$")
# Per session: at most RATE_BURST messages, refilled at RATE_PER_S (a person types slower than this).
RATE_BURST = 8
RATE_PER_S = 0.5
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)

_templates = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True)
_asset_version = str(int(max((p.stat().st_mtime for p in STATIC.glob("*")), default=0)))


_dumps = partial(json.dumps, ensure_ascii=False)  # Chinese as UTF-8: readable and half the bytes


def _json(data: object, *, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response(data, status=status, headers=headers, dumps=_dumps)


def _error(status: int, message: str) -> web.Response:
    return _json({"error": message}, status=status, headers={"Cache-Control": "no-store"})


@routes.get("/chat")
async def chat_page(request: web.Request) -> web.Response:
    html = _templates.get_template("chat.html").render(
        static_url="/static", asset_version=_asset_version, demo=request.app[SETTINGS].demo
    )
    return web.Response(
        text=html,
        content_type="text/html",
        headers={"Content-Security-Policy": CSP, "Cache-Control": "no-store"},
    )


@routes.post("/api/chat")
async def chat_message(request: web.Request) -> web.Response:
    try:
        payload = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return _error(400, "请求格式不对，请刷新页面后再试。")
    if not isinstance(payload, dict):
        return _error(400, "请求格式不对，请刷新页面后再试。")
    session, text = payload.get("session"), payload.get("text")
    if not isinstance(session, str) or not SESSION_RE.match(session):
        return _error(400, "会话已失效，请刷新页面。")
    if not isinstance(text, str) or not text.strip():
        return _error(400, "请输入要发送的内容。")
    text = text.strip()
    if len(text) > MAX_TEXT_CHARS:
        return _error(413, f"消息太长了，请分成几条发送（每条不超过{MAX_TEXT_CHARS}字）。")
    if not request.app[CHAT_LIMITER].allow(session):
        return _error(429, "发送太快了，请稍等几秒再发。")

    gateway = request.app[GATEWAY]
    inbound = store.make_inbound(Channel.WEB, session, MessageKind.TEXT, text=text)
    pending = gateway.submit(inbound, passive=True)
    done, _ = await asyncio.wait({pending.task}, timeout=REPLY_TIMEOUT_S)
    if not done:
        pending.task.add_done_callback(partial(_defer_when_done, gateway.writer))
        if pending.stored.is_set():
            return _json(
                {"reply": "", "urgency": None, "category": None, "case_id": None, "message_id": None},
                status=202,
                headers={"Cache-Control": "no-store"},
            )
        return _error(503, "系统繁忙，消息没有发出，请稍后再试；紧急情况请拨打110或12355。")
    try:
        outcome = pending.task.result()
    except Exception:
        return _error(503, "系统繁忙，消息没有发出，请稍后再试；紧急情况请拨打110或12355。")
    return _json(
        {
            "reply": outcome.reply or "",
            "urgency": outcome.urgency.value if outcome.urgency else None,
            "category": outcome.category.value if outcome.category else None,
            "case_id": outcome.case_id,
            "message_id": outcome.reply_message_id,
        },
        headers={"Cache-Control": "no-store"},
    )


def _defer_when_done(writer: Writer, task: asyncio.Task[store.Outcome]) -> None:
    if task.cancelled() or task.exception() is not None:
        return
    reply_id = task.result().reply_message_id
    if reply_id is not None:
        writer.submit(partial(store.mark_deferred, message_id=reply_id))


@routes.get("/api/chat/updates")
async def chat_updates(request: web.Request) -> web.Response:
    session = request.query.get("session", "")
    if not SESSION_RE.match(session):
        return _error(400, "会话已失效，请刷新页面。")
    try:
        after = int(request.query.get("after", "0"))
    except ValueError:
        return _error(400, "参数错误。")
    rows = await db.read(request.app[ENGINE], partial(store.web_updates, session_id=session, after=after))
    messages = [
        {
            "id": m.id,
            "text": m.text or "",
            "from": "operator" if m.author is Author.OPERATOR else "bot",
            "at": m.created_at.isoformat(),
        }
        for m in rows
    ]
    return _json({"messages": messages}, headers={"Cache-Control": "no-store"})


routes.static("/static", STATIC)
