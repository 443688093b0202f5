"""WeChat official account webhook: ``GET /wechat`` (URL verification) and ``POST /wechat``.

Order of checks, each failure a 4xx that stores nothing:
timestamp within 300 s → signature (before reading XML) → body size (64 KiB,
enforced by the app) → no DTD or entity declarations → decrypt (safe and
compatible mode) → parse. Then the message goes through the gateway, and the
reply goes back passively if it is ready within the 5-second window (budget
4.5 s); otherwise the answer is ``success`` and the reply leaves through the
outbox and the customer-service API.
"""

from __future__ import annotations

import asyncio
import binascii
import logging
import re
import struct
import time
from functools import partial
from xml.parsers.expat import ExpatError

from aiohttp import web
from wechatpy import parse_message
from wechatpy.exceptions import InvalidAppIdException, InvalidSignatureException
from wechatpy.messages import BaseMessage
from wechatpy.replies import TextReply
from wechatpy.utils import check_signature

from bot import store
from bot.conversation import split_utf8
from bot.db.models import Channel, MessageKind
from bot.db.writer import Writer
from bot.handlers.wechat_config import WeChatConfig
from bot.keys import DISPATCHER, GATEWAY, WECHAT
from bot.logsafe import describe
from bot.outbox import Dispatcher

log = logging.getLogger(__name__)
routes = web.RouteTableDef()

MAX_CLOCK_SKEW_S = 300
REPLY_BUDGET_S = 4.5  # WeChat waits 5 s, then retries (three tries in all)
SUCCESS = "success"  # tells WeChat "received, no passive reply"
_DECLARATION_RE = re.compile(rb"<!(?!\[CDATA\[)")
# Everything a hostile or broken body can raise while being decrypted or parsed.
_BAD_BODY_ERRORS = (
    ValueError,  # includes UnicodeDecodeError
    KeyError,
    TypeError,
    IndexError,
    AttributeError,
    ExpatError,
    struct.error,
    binascii.Error,
    InvalidAppIdException,
)


def _reject(status: int, reason: str) -> web.Response:
    return web.Response(status=status, text=reason, content_type="text/plain")


def _checked_query(request: web.Request, config: WeChatConfig) -> tuple[str, str] | web.Response:
    """(timestamp, nonce) when the request is fresh and signed by our token; else the 4xx to send."""
    query = request.query
    signature, timestamp, nonce = query.get("signature", ""), query.get("timestamp", ""), query.get("nonce", "")
    if not (signature and timestamp and nonce):
        return _reject(400, "missing signature, timestamp or nonce")
    try:
        skew = abs(time.time() - int(timestamp))
    except ValueError:
        return _reject(400, "bad timestamp")
    if skew > MAX_CLOCK_SKEW_S:
        return _reject(403, "stale timestamp")
    try:
        check_signature(config.token, signature, timestamp, nonce)
    except InvalidSignatureException:
        return _reject(403, "bad signature")
    return timestamp, nonce


@routes.get("/wechat")
async def verify_url(request: web.Request) -> web.Response:
    """WeChat's server-address verification: echo ``echostr`` for a valid signature."""
    checked = _checked_query(request, request.app[WECHAT])
    if isinstance(checked, web.Response):
        return checked
    return web.Response(text=request.query.get("echostr", ""), content_type="text/plain")


def to_inbound(message: BaseMessage) -> store.Inbound:
    """The gateway's view of a parsed WeChat message or event."""
    openid = message.source
    data = message._data  # the raw fields; wechatpy keeps them
    msg_type = str(data.get("MsgType", "")).lower()
    if msg_type == "event":
        event = str(data.get("Event", "")).lower()
        key = str(data.get("EventKey") or "")
        ref = f"click:{key}" if event == "click" else event
        return store.make_inbound(
            Channel.WECHAT,
            openid,
            MessageKind.EVENT,
            # WeChat's retry key is FromUserName + CreateTime; the event and its key are added because a
            # person can tap two menu items within one second, and a retry repeats them verbatim anyway.
            dedupe_key=f"wechat:event:{openid}:{data.get('CreateTime', '')}:{ref}"[:160],
            media_ref=ref[:256],
        )
    dedupe = f"wechat:msg:{data.get('MsgId')}" if data.get("MsgId") else None
    if msg_type == "text":
        return store.make_inbound(
            Channel.WECHAT, openid, MessageKind.TEXT, text=str(data.get("Content") or ""), dedupe_key=dedupe
        )
    if msg_type == "voice":
        recognition = str(data.get("Recognition") or "").strip() or None
        return store.make_inbound(
            Channel.WECHAT,
            openid,
            MessageKind.VOICE,
            text=recognition,
            dedupe_key=dedupe,
            media_ref=data.get("MediaId"),
        )
    if msg_type in ("image", "video", "shortvideo"):
        kind = MessageKind.IMAGE if msg_type == "image" else MessageKind.VIDEO
        return store.make_inbound(Channel.WECHAT, openid, kind, dedupe_key=dedupe, media_ref=data.get("MediaId"))
    if msg_type == "location":
        # Where a child is can be what saves them: kept for the operator.
        label = f"{data.get('Label') or ''} ({data.get('Location_X')}, {data.get('Location_Y')})".strip()
        return store.make_inbound(Channel.WECHAT, openid, MessageKind.LOCATION, text=label, dedupe_key=dedupe)
    if msg_type == "link":
        title = str(data.get("Title") or "")
        return store.make_inbound(
            Channel.WECHAT,
            openid,
            MessageKind.LINK,
            text=title,
            dedupe_key=dedupe,
            media_ref=str(data.get("Url") or "")[:256],
        )
    return store.make_inbound(Channel.WECHAT, openid, MessageKind.OTHER, dedupe_key=dedupe)


def render_text_reply(message: BaseMessage, text: str) -> str:
    """The passive reply XML for ``text`` (already sanitized). ``]]>`` cannot end the CDATA section early."""
    safe = text.replace("]]>", "]]]]><![CDATA[>")
    return str(TextReply(source=message.target, target=message.source, content=safe).render())


@routes.post("/wechat")
async def receive(request: web.Request) -> web.Response:
    """One message or event from WeChat's servers."""
    started = time.monotonic()
    config = request.app[WECHAT]
    checked = _checked_query(request, config)
    if isinstance(checked, web.Response):
        return checked
    timestamp, nonce = checked
    body = await request.read()  # over 64 KiB: aiohttp answers 413 (the app's client_max_size)
    if not body.strip():
        return _reject(400, "empty body")
    if _DECLARATION_RE.search(body):
        return _reject(400, "DTD and entity declarations are not accepted")
    encrypted = request.query.get("encrypt_type", "raw").lower() == "aes"
    try:
        if encrypted:
            if config.crypto is None:
                return _reject(400, "safe mode is not configured (HUMIAO_WECHAT_AES_KEY)")
            xml = config.crypto.decrypt_message(body, request.query.get("msg_signature", ""), timestamp, nonce)
            if _DECLARATION_RE.search(xml.encode() if isinstance(xml, str) else xml):
                return _reject(400, "DTD and entity declarations are not accepted")
        else:
            xml = body.decode("utf-8")
        message = parse_message(xml)
        if message is None or not message.source:
            return _reject(400, "not a WeChat message")
        inbound = to_inbound(message)  # reads the raw fields: a bad one is a bad body, not a crash
    except InvalidSignatureException:
        return _reject(403, "bad message signature")
    except _BAD_BODY_ERRORS as exc:
        log.info("rejected a malformed WeChat body (%s)", type(exc).__name__)
        return _reject(400, "malformed message")

    gateway = request.app[GATEWAY]
    pending = gateway.submit(inbound, passive=True)
    remaining = REPLY_BUDGET_S - (time.monotonic() - started)
    done, _ = await asyncio.wait({pending.task}, timeout=max(0.0, remaining))
    if not done:
        # Too slow for a passive reply: the outbox sends it when it is ready.
        pending.task.add_done_callback(partial(_release_when_done, gateway.writer, request.app[DISPATCHER]))
        if not pending.stored.is_set():
            # Not even stored yet: do not claim receipt; WeChat retries and the retry joins this attempt.
            return _reject(503, "busy")
        return web.Response(text=SUCCESS, content_type="text/plain")
    try:
        outcome = pending.task.result()
    except Exception as exc:
        log.error("processing a WeChat message failed: %s", describe(exc))
        return _reject(503, "temporarily unavailable")
    if not outcome.reply or outcome.passive_outbox_id is None:
        return web.Response(text=SUCCESS, content_type="text/plain")
    claim = partial(store.claim_passive, outbox_id=outcome.passive_outbox_id)
    if pending.duplicate or outcome.from_store:
        # A retry: reply passively only if nobody else has sent this reply yet.
        if not await gateway.writer.run(claim):
            return web.Response(text=SUCCESS, content_type="text/plain")
    else:
        gateway.writer.submit(claim)
    xml_reply = render_text_reply(message, split_utf8(outcome.reply)[0])
    if encrypted:
        assert config.crypto is not None
        xml_reply = config.crypto.encrypt_message(xml_reply, nonce, timestamp)
    return web.Response(text=xml_reply, content_type="application/xml")


_background: set[asyncio.Task[None]] = set()  # keeps fire-and-forget tasks alive until they finish


def _release_when_done(writer: Writer, dispatcher: Dispatcher, task: asyncio.Task[store.Outcome]) -> None:
    """The passive window is over: hand the reply to the outbox now, and tell the dispatcher."""
    if task.cancelled() or task.exception() is not None:
        return
    outbox_id = task.result().passive_outbox_id
    if outbox_id is not None:
        release = asyncio.ensure_future(_release(writer, dispatcher, outbox_id))
        _background.add(release)
        release.add_done_callback(_background.discard)


async def _release(writer: Writer, dispatcher: Dispatcher, outbox_id: int) -> None:
    try:
        await writer.run(partial(store.release_held, outbox_id=outbox_id))
    except Exception as exc:  # the row stays HELD and the outbox takes it when the hold runs out
        log.error("releasing a held reply failed: %s", describe(exc))
        return
    dispatcher.wake()
