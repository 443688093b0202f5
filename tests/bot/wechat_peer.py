"""A WeChat server written from the official-account callback protocol, for driving ``/wechat`` in tests.

The gateway parses and answers WeChat pushes with wechatpy. If its tests built their requests with wechatpy too,
a bug shared by both sides (a wrong signature order, a padding off by one, a compat-mode envelope wechatpy reads
differently from WeChat) would pass unseen. So this peer uses only ``hashlib``, ``base64``, ``struct``,
``os.urandom``, ``xml.etree.ElementTree`` and the AES-CBC primitive from ``cryptography``, following the protocol
as WeChat documents it:

* ``signature`` = SHA-1 of the lexicographically sorted concatenation of token, timestamp and nonce. WeChat sends it
  (with ``timestamp``, ``nonce`` and ``openid``) on every push, in every mode; URL verification (GET) sends it with
  ``echostr`` and no ``openid``.
* Safe ("aes") mode: key = base64(EncodingAESKey + "="), 32 bytes; IV = key[:16]; plaintext = 16 random bytes +
  4-byte big-endian length of the XML + XML (UTF-8) + AppID, PKCS#7-padded to a multiple of **32** bytes (not
  AES's 16); the base64 ciphertext goes in ``<Encrypt>`` and the query adds ``encrypt_type=aes`` and
  ``msg_signature`` = SHA-1 of sorted(token, timestamp, nonce, Encrypt).
* Compatible ("compat") mode: the same query, and one ``<xml>`` holding the plaintext elements *and* ``<Encrypt>``.
* An encrypted reply is ``<xml><Encrypt/><MsgSignature/><TimeStamp/><Nonce/></xml>``, signed like a push.

Typical use::

    peer = WeChatPeer(token="t", aes_key=random_aes_key())
    params, body = peer.envelope(peer.text("你好"))
    response = await client.post("/wechat", params=params, data=body)
    reply = peer.read_reply(await response.read())  # {"MsgType": "text", "Content": ...} or None
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import itertools
import os
import re
import struct
import time
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

Mode = Literal["plain", "compat", "aes"]
"""How a push is wrapped: plaintext, compatible (plaintext + ``<Encrypt>``), or safe (``<Encrypt>`` only)."""

OddKind = Literal["no_msgtype", "empty", "nested_msgtype", "duplicate_msgtype", "nested_content", "bad_msgid"]
"""The kinds of :meth:`WeChatPeer.odd_message`."""

XmlValue = str | int | float
"""An element value: ``str`` goes in CDATA, numbers go bare, as WeChat writes them (``<CreateTime>1</CreateTime>``)."""

# WeChat pads to 32 bytes (its reference code's "block size"), whatever AES's own 16-byte block says.
PAD_BLOCK = 32
RANDOM_PREFIX = 16

# MsgIds are 64-bit decimal numbers unique per message; WeChat (and the gateway) de-duplicate retries on them. One
# counter for the whole process, seeded from the clock, keeps ids unique across peers, tests, and runs that share a
# database file.
_MSG_IDS = itertools.count(int(time.time() * 1000) * 1000)

_REPLY_ENVELOPE = ("Encrypt", "MsgSignature", "TimeStamp", "Nonce")

_FROM_USER = re.compile(r"<FromUserName>\s*<!\[CDATA\[(.*?)\]\]>\s*</FromUserName>", re.DOTALL)


class WeChatProtocolError(ValueError):
    """A reply broke the protocol: bad XML, signature, base64, padding, length or AppID."""


def sha1_signature(*parts: str) -> str:
    """SHA-1 hex of the sorted concatenation of ``parts``: every WeChat callback signature is this."""
    # Sorting str and sorting their UTF-8 bytes agree (UTF-8 preserves code-point order), so this equals what a
    # byte-oriented implementation computes.
    return hashlib.sha1("".join(sorted(parts)).encode("utf-8")).hexdigest()


def random_aes_key() -> str:
    """A fresh EncodingAESKey: 43 characters, base64 of 32 random bytes without the trailing ``=``."""
    return base64.b64encode(os.urandom(32)).decode("ascii").rstrip("=")


def random_nonce() -> str:
    """A nonce shaped like WeChat's: a decimal number of up to ten digits."""
    return str(int.from_bytes(os.urandom(4), "big"))


def cdata(text: str) -> str:
    """``text`` as CDATA; a ``]]>`` inside is split across two sections, the only way CDATA can carry it."""
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def _element(name: str, value: XmlValue) -> str:
    if isinstance(value, str):
        return f"<{name}>{cdata(value)}</{name}>"
    return f"<{name}>{value}</{name}>"


def _xml(elements: Sequence[tuple[str, XmlValue]]) -> str:
    # One element per line, as WeChat formats its pushes; parsers must not depend on either layout.
    return "<xml>\n" + "".join(_element(name, value) + "\n" for name, value in elements) + "</xml>"


def _parse(body: bytes | str) -> ET.Element:
    """Parse a reply we are reading; the gateway has no reason to send a DTD, so one is a protocol error."""
    raw = body.encode("utf-8") if isinstance(body, str) else body
    if b"<!DOCTYPE" in raw.upper() or b"<!ENTITY" in raw.upper():
        raise WeChatProtocolError("reply carries a DTD")
    try:
        root = ET.fromstring(raw)
    except ET.ParseError as exc:
        raise WeChatProtocolError(f"reply is not well-formed XML: {exc}") from exc
    if root.tag != "xml":
        raise WeChatProtocolError(f"reply root is <{root.tag}>, not <xml>")
    return root


def _flatten(element: ET.Element, prefix: str, out: dict[str, str]) -> None:
    """Children of ``element`` into ``out``: leaves by tag, nested ones by path ("Image/MediaId").

    Repeated siblings get XPath-style 1-based indexes ("Articles/item[2]/Title") so nothing is silently dropped.
    """
    tags = [child.tag for child in element]
    seen: dict[str, int] = {}
    for child in element:
        seen[child.tag] = seen.get(child.tag, 0) + 1
        name = child.tag if tags.count(child.tag) == 1 else f"{child.tag}[{seen[child.tag]}]"
        path = f"{prefix}{name}"
        if len(child):
            _flatten(child, path + "/", out)
        else:
            out[path] = child.text or ""


@dataclass
class WeChatPeer:
    """The WeChat side of one official account: builds signed pushes and reads (and decrypts) the replies.

    ``aes_key`` is the account's 43-character EncodingAESKey; ``None`` means the account is in plaintext mode, and
    then only ``mode="plain"`` is available. Methods taking ``mode=None`` use :attr:`default_mode`.
    """

    token: str
    appid: str = "wx0123456789abcdef"
    aes_key: str | None = None
    account: str = "gh_humiao"
    _key: bytes | None = field(init=False, repr=False, default=None)

    def __post_init__(self) -> None:
        if self.aes_key is None:
            return
        if len(self.aes_key) != 43:
            raise ValueError(f"EncodingAESKey must be 43 characters, got {len(self.aes_key)}")
        try:
            key = base64.b64decode(self.aes_key + "=", validate=True)
        except binascii.Error as exc:
            raise ValueError(f"EncodingAESKey is not base64: {exc}") from exc
        if len(key) != 32:  # 43 chars + "=" always decode to 32 bytes; kept as a guard against edits above
            raise ValueError("EncodingAESKey must decode to 32 bytes")
        self._key = key

    @property
    def default_mode(self) -> Mode:
        """``"aes"`` when the peer has an EncodingAESKey, else ``"plain"``."""
        return "aes" if self._key is not None else "plain"

    # ----- signatures and URL verification -----------------------------------------------------------------------

    def signature(self, timestamp: str, nonce: str, *extra: str) -> str:
        """SHA-1 of sorted(token, timestamp, nonce, *extra): ``signature`` with no extra, ``msg_signature`` with
        the Encrypt value as the one extra."""
        return sha1_signature(self.token, timestamp, nonce, *extra)

    def verify_query(
        self, echostr: str | None = None, *, timestamp: int | None = None, nonce: str | None = None
    ) -> dict[str, str]:
        """Query of the GET WeChat sends to check the URL; the server must answer ``echostr`` verbatim.

        WeChat sends this in plaintext even for safe-mode official accounts (unlike WeCom, whose echostr is
        encrypted), and without ``openid``.
        """
        ts = str(int(time.time()) if timestamp is None else timestamp)
        nonce = random_nonce() if nonce is None else nonce
        echostr = random_nonce() + random_nonce() if echostr is None else echostr
        return {"signature": self.signature(ts, nonce), "echostr": echostr, "timestamp": ts, "nonce": nonce}

    # ----- messages (the XML WeChat pushes) ----------------------------------------------------------------------

    def _message(
        self,
        msg_type: str,
        fields: Sequence[tuple[str, XmlValue]],
        *,
        user: str,
        create_time: int | None,
        msg_id: int | Literal[False] | None,
    ) -> str:
        """Common header + ``fields`` (+ MsgId unless ``msg_id is False``: events carry none)."""
        elements: list[tuple[str, XmlValue]] = [
            ("ToUserName", self.account),
            ("FromUserName", user),
            ("CreateTime", int(time.time()) if create_time is None else create_time),
            ("MsgType", msg_type),
            *fields,
        ]
        if msg_id is not False:
            elements.append(("MsgId", next(_MSG_IDS) if msg_id is None else msg_id))
        return _xml(elements)

    def text(
        self, content: str, *, user: str = "o_user1", msg_id: int | None = None, create_time: int | None = None
    ) -> str:
        """A text message. ``content`` may hold anything, ``]]>``, Chinese and emoji included (see :func:`cdata`);
        characters XML 1.0 forbids (most C0 controls) are passed through, so the result is then not well-formed."""
        return self._message("text", [("Content", content)], user=user, create_time=create_time, msg_id=msg_id)

    def voice(
        self,
        *,
        recognition: str | None,
        media_id: str = "media_voice_1",
        audio_format: str = "amr",
        user: str = "o_user1",
        msg_id: int | None = None,
        create_time: int | None = None,
    ) -> str:
        """A voice message; ``recognition`` is WeChat's speech-to-text, ``None`` when the account has it off (the
        element is then absent, as WeChat sends it)."""
        fields: list[tuple[str, XmlValue]] = [("MediaId", media_id), ("Format", audio_format)]
        if recognition is not None:
            fields.append(("Recognition", recognition))
        return self._message("voice", fields, user=user, create_time=create_time, msg_id=msg_id)

    def image(
        self,
        *,
        pic_url: str = "http://mmbiz.qpic.cn/mmbiz_jpg/fake/0",
        media_id: str = "media_image_1",
        user: str = "o_user1",
        msg_id: int | None = None,
        create_time: int | None = None,
    ) -> str:
        """An image message."""
        fields: list[tuple[str, XmlValue]] = [("PicUrl", pic_url), ("MediaId", media_id)]
        return self._message("image", fields, user=user, create_time=create_time, msg_id=msg_id)

    def video(
        self,
        *,
        short: bool = False,
        media_id: str = "media_video_1",
        thumb_media_id: str = "media_thumb_1",
        user: str = "o_user1",
        msg_id: int | None = None,
        create_time: int | None = None,
    ) -> str:
        """A video message, or with ``short=True`` a ``shortvideo`` one (same fields, different MsgType)."""
        fields: list[tuple[str, XmlValue]] = [("MediaId", media_id), ("ThumbMediaId", thumb_media_id)]
        msg_type = "shortvideo" if short else "video"
        return self._message(msg_type, fields, user=user, create_time=create_time, msg_id=msg_id)

    def location(
        self,
        *,
        latitude: float = 39.908823,
        longitude: float = 116.39747,
        scale: int = 15,
        label: str = "北京市东城区",
        user: str = "o_user1",
        msg_id: int | None = None,
        create_time: int | None = None,
    ) -> str:
        """A location message (Location_X is the latitude, Location_Y the longitude)."""
        fields: list[tuple[str, XmlValue]] = [
            ("Location_X", latitude),
            ("Location_Y", longitude),
            ("Scale", scale),
            ("Label", label),
        ]
        return self._message("location", fields, user=user, create_time=create_time, msg_id=msg_id)

    def link(
        self,
        *,
        title: str = "标题",
        description: str = "描述",
        url: str = "https://example.com/article",
        user: str = "o_user1",
        msg_id: int | None = None,
        create_time: int | None = None,
    ) -> str:
        """A link message."""
        fields: list[tuple[str, XmlValue]] = [("Title", title), ("Description", description), ("Url", url)]
        return self._message("link", fields, user=user, create_time=create_time, msg_id=msg_id)

    def event(
        self,
        event: str,
        *,
        key: str | None = None,
        ticket: str | None = None,
        user: str = "o_user1",
        create_time: int | None = None,
    ) -> str:
        """An event push: ``subscribe``, ``unsubscribe``, ``CLICK`` (menu key in ``key``), ``VIEW``, ``SCAN``...

        ``event`` is sent as given (WeChat writes ``subscribe`` lower-case and ``CLICK`` upper-case). Events carry
        no MsgId: WeChat's retries of an event are recognised by FromUserName + CreateTime, so pass the same
        ``create_time`` to simulate one. A scan-to-subscribe is ``event("subscribe", key="qrscene_123", ticket=...)``.
        """
        fields: list[tuple[str, XmlValue]] = [("Event", event)]
        if key is not None:
            fields.append(("EventKey", key))
        if ticket is not None:
            fields.append(("Ticket", ticket))
        return self._message("event", fields, user=user, create_time=create_time, msg_id=False)

    # ----- hostile bodies ----------------------------------------------------------------------------------------

    def entity_bomb(self, *, levels: int = 9, user: str = "o_user1") -> str:
        """Billion laughs: a DTD whose nested entities expand to 3 * 10**levels characters in ``<Content>``.

        Never feed this to a parser that expands entities without limits (expat >= 2.4 stops it, but slowly
        enough to notice); the gateway must refuse the DTD before expanding anything.
        """
        entities = ['<!ENTITY lol0 "lol">']
        for i in range(1, levels + 1):
            expansion = f"&lol{i - 1};" * 10
            entities.append(f'<!ENTITY lol{i} "{expansion}">')
        message = self.text("PLACEHOLDER", user=user)
        dtd = '<?xml version="1.0"?>\n<!DOCTYPE xml [\n' + "\n".join(entities) + "\n]>\n"
        return dtd + message.replace(cdata("PLACEHOLDER"), f"&lol{levels};")

    def external_entity(self, *, path: str = "/etc/passwd", user: str = "o_user1") -> str:
        """XXE: ``<Content>`` is an external entity naming ``file://{path}``; an echo of it would leak the file."""
        message = self.text("PLACEHOLDER", user=user)
        dtd = f'<?xml version="1.0"?>\n<!DOCTYPE xml [\n<!ENTITY xxe SYSTEM "file://{path}">\n]>\n'
        return dtd + message.replace(cdata("PLACEHOLDER"), "&xxe;")

    def malformed(self, *, user: str = "o_user1") -> str:
        """A text message cut off inside ``<Content>``: signed and (in aes mode) encrypted correctly, not XML."""
        message = self.text("这条消息在中途被截断了", user=user)
        return message[: message.index("<Content>") + len("<Content><![CDATA[这条")]

    def odd_message(self, kind: OddKind, *, user: str = "o_user1") -> str:
        """Well-formed, DTD-free XML that is not a valid message; what wechatpy 1.8.18 does with each:

        * ``no_msgtype``: ``parse_message`` raises ``KeyError``.
        * ``empty``: ``<xml/>``; ``parse_message`` raises ``TypeError``.
        * ``nested_msgtype`` / ``duplicate_msgtype``: ``MsgType`` is a dict / list; ``AttributeError``.
        * ``nested_content``: parses as a TextMessage whose ``.content`` is a dict, not a str.
        * ``bad_msgid``: parses; ``.id`` and ``.time`` raise ``ValueError`` only when read (fields are lazy).

        In plaintext mode the signature does not cover the body, so anyone replaying one captured query can send
        these; in aes mode only a holder of the key can.
        """
        header = f"<ToUserName>{cdata(self.account)}</ToUserName><FromUserName>{cdata(user)}</FromUserName>"
        text = "<MsgType><![CDATA[text]]></MsgType>"
        bodies: dict[str, str] = {
            "no_msgtype": f"<xml>{header}<CreateTime>1</CreateTime><Content>x</Content></xml>",
            "empty": "<xml/>",
            "nested_msgtype": f"<xml>{header}<MsgType><text/></MsgType></xml>",
            "duplicate_msgtype": f"<xml>{header}{text}{text}<Content>x</Content></xml>",
            "nested_content": f"<xml>{header}<CreateTime>1</CreateTime>{text}<Content><b>x</b></Content></xml>",
            "bad_msgid": f"<xml>{header}<CreateTime>soon</CreateTime>{text}<Content>x</Content><MsgId>x</MsgId></xml>",
        }
        return bodies[kind]

    def oversized(self, n_bytes: int, *, user: str = "o_user1") -> str:
        """A well-formed text message of exactly ``n_bytes`` UTF-8 bytes, so only its size can get it refused.

        Sizes are of the XML; :meth:`envelope` in aes mode makes the body about 4/3 larger (base64).
        """
        msg_id = next(_MSG_IDS)
        create_time = int(time.time())
        base = len(self.text("", user=user, msg_id=msg_id, create_time=create_time).encode("utf-8"))
        if n_bytes < base:
            raise ValueError(f"the smallest text message here is {base} bytes")
        return self.text("a" * (n_bytes - base), user=user, msg_id=msg_id, create_time=create_time)

    # ----- encryption --------------------------------------------------------------------------------------------

    def _cipher(self) -> Cipher[modes.CBC]:
        if self._key is None:
            raise ValueError("this peer has no aes_key: it is a plaintext-mode account")
        return Cipher(algorithms.AES(self._key), modes.CBC(self._key[:16]))

    def encrypt(self, xml: str | bytes, *, appid: str | None = None, random_prefix: bytes | None = None) -> str:
        """The base64 ``<Encrypt>`` value for ``xml``; ``appid`` overrides the peer's, to forge a wrong one.

        ``random_prefix`` (16 bytes) replaces the random block, for known-answer tests: it is the only way to see
        the IV, since in CBC a wrong IV garbles just the first block, which is that random prefix.
        """
        payload = xml.encode("utf-8") if isinstance(xml, str) else xml
        prefix = os.urandom(RANDOM_PREFIX) if random_prefix is None else random_prefix
        if len(prefix) != RANDOM_PREFIX:
            raise ValueError(f"random_prefix must be {RANDOM_PREFIX} bytes")
        plain = prefix + struct.pack(">I", len(payload)) + payload
        plain += (self.appid if appid is None else appid).encode("utf-8")
        pad = PAD_BLOCK - len(plain) % PAD_BLOCK  # 1..32: a full block of 32s when already aligned
        encryptor = self._cipher().encryptor()
        ciphertext = encryptor.update(plain + bytes([pad]) * pad) + encryptor.finalize()
        return base64.b64encode(ciphertext).decode("ascii")

    def decrypt(self, encrypt: str) -> str:
        """The XML inside an ``<Encrypt>`` value, after checking padding, length and AppID.

        Stricter than wechatpy, which trusts the last byte as the pad length and never checks the pad bytes.
        Raises :class:`WeChatProtocolError`.
        """
        try:
            ciphertext = base64.b64decode(encrypt, validate=True)
        except binascii.Error as exc:
            raise WeChatProtocolError(f"Encrypt is not base64: {exc}") from exc
        if not ciphertext or len(ciphertext) % 16:
            raise WeChatProtocolError(f"ciphertext of {len(ciphertext)} bytes is not whole AES blocks")
        decryptor = self._cipher().decryptor()
        plain = decryptor.update(ciphertext) + decryptor.finalize()
        pad = plain[-1]
        if not 1 <= pad <= PAD_BLOCK or plain[-pad:] != bytes([pad]) * pad:
            raise WeChatProtocolError("bad PKCS#7 padding (wrong key, or not padded to 32 bytes)")
        body = plain[:-pad]
        if len(body) < RANDOM_PREFIX + 4:
            raise WeChatProtocolError("plaintext too short for random prefix and length")
        (length,) = struct.unpack(">I", body[RANDOM_PREFIX : RANDOM_PREFIX + 4])
        start = RANDOM_PREFIX + 4
        if start + length > len(body):
            raise WeChatProtocolError(f"XML length {length} runs past the plaintext")
        appid = body[start + length :]
        if appid != self.appid.encode("utf-8"):
            raise WeChatProtocolError(f"AppID is {appid!r}, expected {self.appid!r}")
        try:
            return body[start : start + length].decode("utf-8")
        except UnicodeDecodeError as exc:
            raise WeChatProtocolError("decrypted XML is not UTF-8") from exc

    # ----- requests and replies ----------------------------------------------------------------------------------

    def envelope(
        self,
        xml: str,
        *,
        mode: Mode | None = None,
        timestamp: int | None = None,
        nonce: str | None = None,
        openid: str | None = None,
    ) -> tuple[dict[str, str], bytes]:
        """The query parameters and body of the POST WeChat makes to push ``xml``.

        Every mode carries ``signature``, ``timestamp``, ``nonce`` and ``openid`` (taken from ``<FromUserName>``
        unless given; left out if neither); "aes" and "compat" add ``encrypt_type=aes`` and ``msg_signature``.
        ``xml`` need not be well-formed (hostile bodies): "compat" only needs it to end in ``</xml>``.
        Tamper with the returned dict to test signature checks.
        """
        mode = self.default_mode if mode is None else mode
        ts = str(int(time.time()) if timestamp is None else timestamp)
        nonce = random_nonce() if nonce is None else nonce
        params = {"signature": self.signature(ts, nonce), "timestamp": ts, "nonce": nonce}
        if openid is None and (match := _FROM_USER.search(xml)):
            openid = match.group(1)
        if openid is not None:
            params["openid"] = openid
        if mode == "plain":
            return params, xml.encode("utf-8")
        encrypt = self.encrypt(xml)
        params["encrypt_type"] = "aes"
        params["msg_signature"] = self.signature(ts, nonce, encrypt)
        if mode == "aes":
            body = f"<xml>\n<ToUserName>{cdata(self.account)}</ToUserName>\n<Encrypt>{cdata(encrypt)}</Encrypt>\n</xml>"
            return params, body.encode("utf-8")
        if mode != "compat":
            raise ValueError(f"unknown mode {mode!r}")
        stripped = xml.rstrip()
        if not stripped.endswith("</xml>"):
            raise ValueError("compat mode needs an XML document ending in </xml> to add <Encrypt> to")
        body = stripped.removesuffix("</xml>") + f"<Encrypt>{cdata(encrypt)}</Encrypt>\n</xml>"
        return params, body.encode("utf-8")

    def read_reply(self, body: bytes | str, *, mode: Mode | None = None) -> dict[str, str] | None:
        """The passive reply as ``{element: text}`` (nested elements by path, e.g. ``"Image/MediaId"``), or
        ``None`` for ``success`` / an empty body, WeChat's two ways of saying "no reply".

        In "aes" mode the reply must be an encrypted envelope: its MsgSignature is verified and its Encrypt
        decrypted (see :meth:`decrypt`). "compat" accepts an encrypted or a plaintext reply, as WeChat does.
        "plain" refuses an encrypted one: WeChat could not read it. Raises :class:`WeChatProtocolError`.
        """
        mode = self.default_mode if mode is None else mode
        text = body.decode("utf-8") if isinstance(body, bytes) else body
        if text.strip() in ("", "success"):
            return None
        root = _parse(text)
        encrypt = root.find("Encrypt")
        if encrypt is None:
            if mode == "aes":
                raise WeChatProtocolError("safe mode needs an encrypted reply; got plaintext")
        else:
            if mode == "plain":
                raise WeChatProtocolError("plaintext mode got an encrypted reply")
            missing = [tag for tag in _REPLY_ENVELOPE if not root.findtext(tag)]
            if missing:
                raise WeChatProtocolError(f"encrypted reply lacks {', '.join(missing)}")
            encrypted, signature, ts, nonce = (root.findtext(tag) or "" for tag in _REPLY_ENVELOPE)
            if signature != self.signature(ts, nonce, encrypted):
                raise WeChatProtocolError("reply MsgSignature does not match")
            inner = self.decrypt(encrypted)
            if inner.strip() in ("", "success"):
                return None
            root = _parse(inner)
        out: dict[str, str] = {}
        _flatten(root, "", out)
        return out
