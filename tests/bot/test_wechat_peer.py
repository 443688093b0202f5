"""Self-tests of the WeChat test peer and the fake WeChat API.

The peer is written from the protocol; here it is cross-checked against wechatpy 1.8.18 in both directions, so a
mistake would have to be made identically by two independent implementations to go unseen. The last tests of the
peer pin how wechatpy itself fails on bad input: the gateway's error handling depends on exactly that.
"""

from __future__ import annotations

import asyncio
import base64
import os
import re
import struct
import time
import xml.etree.ElementTree as ET
from typing import Any, get_args
from xml.parsers.expat import ExpatError

import aiohttp
import defusedxml.ElementTree as DefusedET
import pytest
import requests
import xmltodict
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from defusedxml import DefusedXmlException
from wechatpy import WeChatClient, parse_message
from wechatpy.crypto import PrpCrypto, WeChatCrypto
from wechatpy.events import ClickEvent, SubscribeEvent, SubscribeScanEvent, UnsubscribeEvent
from wechatpy.exceptions import InvalidAppIdException, InvalidSignatureException, WeChatClientException
from wechatpy.messages import (
    ImageMessage,
    LinkMessage,
    LocationMessage,
    ShortVideoMessage,
    TextMessage,
    VideoMessage,
    VoiceMessage,
)
from wechatpy.replies import TextReply
from wechatpy.utils import check_signature

from tests.bot.fake_wechat_api import MODES, FakeWeChatAPI
from tests.bot.wechat_peer import Mode, OddKind, WeChatPeer, WeChatProtocolError, cdata, random_aes_key, sha1_signature

TOKEN = "humiao-test-token"
APPID = "wx0123456789abcdef"
SECRET = "fake-secret"

# Contents that break naive XML building: the CDATA terminator (alone, repeated, at the ends), markup characters,
# Chinese, emoji (4-byte UTF-8), newlines.
AWKWARD_CONTENTS = [
    "a]]>b",
    "]]>]]>",
    "]]>",
    "x]]",
    "<xml>&amp;</xml> < & >",
    "我被欺负了，怎么办？",
    "救命 😭🆘 help",
    "第一行\n第二行",
]


@pytest.fixture
def aes_key() -> str:
    return random_aes_key()


@pytest.fixture
def peer(aes_key: str) -> WeChatPeer:
    return WeChatPeer(token=TOKEN, appid=APPID, aes_key=aes_key)


@pytest.fixture
def crypto(aes_key: str) -> WeChatCrypto:
    return WeChatCrypto(TOKEN, aes_key, APPID)


# ----- keys and signatures ---------------------------------------------------------------------------------------


def test_random_aes_key_is_an_encoding_aes_key() -> None:
    keys = {random_aes_key() for _ in range(20)}
    assert len(keys) == 20
    for key in keys:
        assert len(key) == 43 and "=" not in key
        assert len(base64.b64decode(key + "=")) == 32
        WeChatCrypto(TOKEN, key, APPID)  # asserts the 32-byte key itself


@pytest.mark.parametrize("bad", ["short", "!" * 43, random_aes_key() + "A"])
def test_peer_refuses_a_bad_aes_key(bad: str) -> None:
    with pytest.raises(ValueError):
        WeChatPeer(token=TOKEN, aes_key=bad)


def test_signature_is_sha1_of_the_sorted_parts() -> None:
    # Sorting matters: the same parts in any order sign the same, and the sort is of the strings, not of the roles.
    parts = ("zeta", "1700000000", "alpha")
    assert sha1_signature(*parts) == sha1_signature(*reversed(parts))
    assert WeChatPeer(token="zeta").signature("1700000000", "alpha") == sha1_signature(*parts)
    # Plain concatenation, no separator: WeChat's scheme cannot tell ("a", "b") from ("ab", ""). Harmless here
    # (the token is secret), but it is the protocol, so the peer must not "fix" it.
    assert sha1_signature("a", "b") == sha1_signature("ab", "")
    assert len(sha1_signature("x")) == 40 and re.fullmatch(r"[0-9a-f]{40}", sha1_signature("x"))


def test_verify_query_passes_wechatpy_check_signature(peer: WeChatPeer) -> None:
    query = peer.verify_query("echo-123", timestamp=1700000000, nonce="42")
    assert query == {"signature": query["signature"], "echostr": "echo-123", "timestamp": "1700000000", "nonce": "42"}
    check_signature(TOKEN, query["signature"], query["timestamp"], query["nonce"])
    with pytest.raises(InvalidSignatureException):
        check_signature(TOKEN, query["signature"], query["timestamp"], "43")
    with pytest.raises(InvalidSignatureException):
        check_signature("other-token", query["signature"], query["timestamp"], query["nonce"])


def test_verify_query_defaults_are_fresh(peer: WeChatPeer) -> None:
    first, second = peer.verify_query(), peer.verify_query()
    assert first["nonce"] != second["nonce"] and first["echostr"] != second["echostr"]
    assert abs(int(first["timestamp"]) - time.time()) < 5
    check_signature(TOKEN, first["signature"], first["timestamp"], first["nonce"])


# ----- envelopes: peer -> wechatpy -------------------------------------------------------------------------------


def test_plain_envelope(peer: WeChatPeer) -> None:
    xml = peer.text("你好", user="o_abc")
    params, body = peer.envelope(xml, mode="plain", timestamp=1700000000, nonce="7")
    assert body == xml.encode("utf-8")
    assert set(params) == {"signature", "timestamp", "nonce", "openid"}
    assert params["openid"] == "o_abc" and params["timestamp"] == "1700000000"
    check_signature(TOKEN, params["signature"], params["timestamp"], params["nonce"])


def test_default_mode_follows_the_aes_key(peer: WeChatPeer) -> None:
    assert peer.default_mode == "aes"
    plain_peer = WeChatPeer(token=TOKEN)
    assert plain_peer.default_mode == "plain"
    assert "encrypt_type" not in plain_peer.envelope(plain_peer.text("x"))[0]
    with pytest.raises(ValueError, match="no aes_key"):
        plain_peer.envelope(plain_peer.text("x"), mode="aes")


@pytest.mark.parametrize("mode", ["aes", "compat"])
@pytest.mark.parametrize("content", AWKWARD_CONTENTS)
def test_encrypted_envelope_decrypts_with_wechatpy(
    peer: WeChatPeer, crypto: WeChatCrypto, mode: Mode, content: str
) -> None:
    xml = peer.text(content, user="o_user9", msg_id=123456789012345678, create_time=1700000000)
    params, body = peer.envelope(xml, mode=mode)
    assert params["encrypt_type"] == "aes" and params["openid"] == "o_user9"
    # WeChat sends the plaintext signature in every mode; the gateway must check msg_signature in these two.
    check_signature(TOKEN, params["signature"], params["timestamp"], params["nonce"])
    decrypted = crypto.decrypt_message(body, params["msg_signature"], params["timestamp"], params["nonce"])
    assert decrypted == xml
    message = parse_message(decrypted)
    assert isinstance(message, TextMessage)
    assert message.content == content
    assert (message.source, message.target) == ("o_user9", "gh_humiao")
    assert message.id == 123456789012345678 and message.time == 1700000000


def test_aes_body_holds_only_the_account_and_encrypt(peer: WeChatPeer) -> None:
    _, body = peer.envelope(peer.text("secret words"), mode="aes")
    root = ET.fromstring(body)
    assert [child.tag for child in root] == ["ToUserName", "Encrypt"]
    assert root.findtext("ToUserName") == "gh_humiao"
    assert "secret words" not in body.decode()


def test_compat_body_holds_plaintext_and_encrypt(peer: WeChatPeer, crypto: WeChatCrypto) -> None:
    _, body = peer.envelope(peer.text("明文 ]]> 密文"), mode="compat")
    root = ET.fromstring(body)
    assert [child.tag for child in root] == [
        "ToUserName",
        "FromUserName",
        "CreateTime",
        "MsgType",
        "Content",
        "MsgId",
        "Encrypt",
    ]
    assert root.findtext("Content") == "明文 ]]> 密文"
    # wechatpy reads a compat body either way: parse_message on it sees the plaintext (and ignores Encrypt).
    message = parse_message(body)
    assert isinstance(message, TextMessage) and message.content == "明文 ]]> 密文"


def test_every_envelope_is_freshly_encrypted(peer: WeChatPeer) -> None:
    # The 16 random bytes make two encryptions of one message differ; a fixed prefix would be a protocol bug.
    xml = peer.text("same")
    assert peer.encrypt(xml) != peer.encrypt(xml)
    assert peer.decrypt(peer.encrypt(xml)) == xml


def test_ciphertext_is_byte_identical_to_wechatpy(
    peer: WeChatPeer, crypto: WeChatCrypto, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Known answer: with the random prefix fixed, both sides must produce the same bytes. This is the only check
    # of the IV (key[:16]): CBC with a wrong IV still decrypts everything after the random first block.
    monkeypatch.setattr(PrpCrypto, "get_random_string", lambda self: "0123456789abcdef")
    xml = peer.text("同一条消息 ]]>", msg_id=1, create_time=1700000000)
    ours = peer.encrypt(xml, random_prefix=b"0123456789abcdef")
    theirs = ET.fromstring(crypto.encrypt_message(xml, "1", "1700000000")).findtext("Encrypt")
    assert ours == theirs
    with pytest.raises(ValueError):
        peer.encrypt(xml, random_prefix=b"short")


def test_wechatpy_refuses_tampering(peer: WeChatPeer, crypto: WeChatCrypto, aes_key: str) -> None:
    params, body = peer.envelope(peer.text("x"), mode="aes")
    with pytest.raises(InvalidSignatureException):
        crypto.decrypt_message(body, params["signature"], params["timestamp"], params["nonce"])
    with pytest.raises(InvalidSignatureException):
        crypto.decrypt_message(body, params["msg_signature"], str(int(params["timestamp"]) + 1), params["nonce"])
    # The AppID is inside the ciphertext: another account's push does not decrypt as ours.
    other = WeChatPeer(token=TOKEN, appid="wxffffffffffffffff", aes_key=aes_key)
    params, body = other.envelope(other.text("x"), mode="aes")
    with pytest.raises(InvalidAppIdException):
        crypto.decrypt_message(body, params["msg_signature"], params["timestamp"], params["nonce"])


def test_peer_pads_to_32_bytes(peer: WeChatPeer, aes_key: str) -> None:
    # WeChat's PKCS#7 block is 32 bytes. Lengths around a boundary: a 32-aligned plaintext gets a full 32-byte pad.
    key = base64.b64decode(aes_key + "=")
    prefix = 16 + 4 + len(APPID)
    for xml_len in (31 - prefix % 32 + 32, 32 - prefix % 32 + 32, 33 - prefix % 32 + 32):
        xml = "x" * xml_len
        ciphertext = base64.b64decode(peer.encrypt(xml))
        decryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).decryptor()
        plain = decryptor.update(ciphertext) + decryptor.finalize()
        assert len(plain) % 32 == 0
        pad = plain[-1]
        assert pad == 32 - (prefix + xml_len) % 32 or (pad == 32 and (prefix + xml_len) % 32 == 0)
        assert plain[-pad:] == bytes([pad]) * pad
        assert struct.unpack(">I", plain[16:20])[0] == xml_len
        assert plain[20 : 20 + xml_len].decode() == xml and plain[20 + xml_len : -pad] == APPID.encode()


# ----- replies: wechatpy -> peer ---------------------------------------------------------------------------------


def _reply_xml(peer: WeChatPeer, content: str) -> str:
    return TextReply(content=content, message=parse_message(peer.text("hi"))).render()


@pytest.mark.parametrize("mode", ["aes", "compat"])
def test_read_reply_decrypts_wechatpy_encrypt_message(peer: WeChatPeer, crypto: WeChatCrypto, mode: Mode) -> None:
    content = "别怕，拨打 12355 😊 <&>"
    encrypted = crypto.encrypt_message(_reply_xml(peer, content), "98765", "1700000000")
    reply = peer.read_reply(encrypted.encode(), mode=mode)
    assert reply is not None
    assert reply["MsgType"] == "text" and reply["Content"] == content
    assert (reply["ToUserName"], reply["FromUserName"]) == ("o_user1", "gh_humiao")


@pytest.mark.parametrize("mode", ["plain", "compat"])
def test_read_reply_plaintext(peer: WeChatPeer, mode: Mode) -> None:
    reply = peer.read_reply(_reply_xml(peer, "好的"), mode=mode)
    assert reply is not None and reply["Content"] == "好的" and reply["MsgType"] == "text"


@pytest.mark.parametrize("body", ["", b"", "success", b"success", "  success\n"])
@pytest.mark.parametrize("mode", ["plain", "compat", "aes"])
def test_read_reply_no_reply(peer: WeChatPeer, body: str | bytes, mode: Mode) -> None:
    assert peer.read_reply(body, mode=mode) is None


def test_read_reply_encrypted_success_is_no_reply(peer: WeChatPeer, crypto: WeChatCrypto) -> None:
    assert peer.read_reply(crypto.encrypt_message("success", "1", "1700000000")) is None


def test_read_reply_flattens_nested_and_repeated_elements(peer: WeChatPeer) -> None:
    xml = (
        "<xml><MsgType><![CDATA[news]]></MsgType><ArticleCount>2</ArticleCount><Articles>"
        "<item><Title><![CDATA[一]]></Title></item><item><Title><![CDATA[二]]></Title></item>"
        "</Articles><Image><MediaId><![CDATA[m1]]></MediaId></Image></xml>"
    )
    assert peer.read_reply(xml, mode="plain") == {
        "MsgType": "news",
        "ArticleCount": "2",
        "Articles/item[1]/Title": "一",
        "Articles/item[2]/Title": "二",
        "Image/MediaId": "m1",
    }


def _forged_reply(peer: WeChatPeer, plain: bytes, aes_key: str) -> str:
    """An encrypted reply around raw ``plain`` bytes (already padded), correctly signed."""
    key = base64.b64decode(aes_key + "=")
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    encrypt = base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode()
    return (
        f"<xml><Encrypt>{cdata(encrypt)}</Encrypt><MsgSignature>{peer.signature('1', '2', encrypt)}</MsgSignature>"
        "<TimeStamp>1</TimeStamp><Nonce>2</Nonce></xml>"
    )


def test_read_reply_refuses_broken_replies(peer: WeChatPeer, crypto: WeChatCrypto, aes_key: str) -> None:
    good = crypto.encrypt_message(_reply_xml(peer, "ok"), "555", "1700000000")
    ok_inner = b"<xml><Content>ok</Content></xml>"
    head = os.urandom(16) + struct.pack(">I", len(ok_inner)) + ok_inner + APPID.encode()
    bad_padding = head + b"\x00" * (32 - len(head) % 32)  # pad byte 0: not PKCS#7
    wrong_pad_bytes = head + bytes([7] * (32 - len(head) % 32 - 1)) + bytes([32 - len(head) % 32])
    length_past_end = os.urandom(16) + struct.pack(">I", 10_000) + ok_inner + APPID.encode()
    length_past_end += bytes([32 - len(length_past_end) % 32]) * (32 - len(length_past_end) % 32)
    cases: dict[str, tuple[str, Mode]] = {
        "tampered signature": (re.sub(r"(<MsgSignature><!\[CDATA\[)\w+", r"\g<1>" + "0" * 40, good), "aes"),
        "tampered timestamp": (good.replace("<TimeStamp>1700000000", "<TimeStamp>1700000001"), "aes"),
        "other appid": (WeChatCrypto(TOKEN, aes_key, "wxother").encrypt_message("<xml/>", "1", "1"), "aes"),
        "other key": (WeChatCrypto(TOKEN, random_aes_key(), APPID).encrypt_message("<xml/>", "1", "1"), "aes"),
        "plaintext in safe mode": (_reply_xml(peer, "ok"), "aes"),
        "encrypted in plaintext mode": (good, "plain"),
        "no MsgSignature": (re.sub(r"<MsgSignature>.*?</MsgSignature>", "", good, flags=re.S), "aes"),
        "not XML": ("<xml><Content>", "plain"),
        "root not xml": ("<reply><Content>x</Content></reply>", "plain"),
        "DTD": ('<!DOCTYPE xml [<!ENTITY e "x">]><xml><Content>&e;</Content></xml>', "plain"),
        "bad padding": (_forged_reply(peer, bad_padding, aes_key), "aes"),
        "pad bytes differ": (_forged_reply(peer, wrong_pad_bytes, aes_key), "aes"),
        "length past end": (_forged_reply(peer, length_past_end, aes_key), "aes"),
    }
    for name, (body, mode) in cases.items():
        with pytest.raises(WeChatProtocolError):
            peer.read_reply(body, mode=mode)
            pytest.fail(f"read_reply accepted: {name}")


def test_wechatpy_text_reply_does_not_escape_cdata_end(peer: WeChatPeer) -> None:
    # wechatpy renders StringField as '<![CDATA[{value}]]>' verbatim: a "]]>" in a reply ends the CDATA early and
    # the rest is parsed as markup. The gateway must strip or split "]]>" in reply text itself; this pins the gap.
    rendered = _reply_xml(peer, "a]]>b")
    assert "<![CDATA[a]]>b]]>" in rendered
    with pytest.raises(WeChatProtocolError, match="not well-formed"):
        peer.read_reply(rendered, mode="plain")


# ----- messages --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("content", AWKWARD_CONTENTS)
def test_text_round_trips_exactly_through_a_plain_xml_parser(peer: WeChatPeer, content: str) -> None:
    root = ET.fromstring(peer.text(content).encode("utf-8"))
    assert root.findtext("Content") == content and root.findtext("MsgType") == "text"


def test_wechatpy_strips_whitespace_around_text(peer: WeChatPeer) -> None:
    # xmltodict (under parse_message) strips surrounding whitespace, and an empty Content becomes None, not "".
    assert parse_message(peer.text("  hi \n")).content == "hi"
    assert parse_message(peer.text("")).content is None
    assert ET.fromstring(peer.text("  hi \n")).findtext("Content") == "  hi \n"


def test_msg_ids_are_fresh_and_increasing(peer: WeChatPeer) -> None:
    other = WeChatPeer(token="other")
    ids = [int(ET.fromstring(p.text("x")).findtext("MsgId") or 0) for p in (peer, other, peer, other)]
    assert ids == sorted(ids) and len(set(ids)) == 4
    assert ET.fromstring(peer.text("x", msg_id=7, create_time=9)).findtext("MsgId") == "7"


def test_create_time_defaults_to_now(peer: WeChatPeer) -> None:
    assert abs(int(ET.fromstring(peer.text("x")).findtext("CreateTime") or 0) - time.time()) < 5


def test_voice_parses_with_recognition(peer: WeChatPeer) -> None:
    message = parse_message(peer.voice(recognition="我想找人说说话", user="o_v"))
    assert isinstance(message, VoiceMessage)
    assert (message.recognition, message.format, message.source) == ("我想找人说说话", "amr", "o_v")
    assert message.id > 0
    silent = parse_message(peer.voice(recognition=None))
    assert isinstance(silent, VoiceMessage) and silent.recognition is None
    assert "Recognition" not in peer.voice(recognition=None)


def test_media_and_location_and_link_parse(peer: WeChatPeer) -> None:
    image = parse_message(peer.image(pic_url="http://p/1.jpg", media_id="m1"))
    assert isinstance(image, ImageMessage) and (image.image, image.media_id) == ("http://p/1.jpg", "m1")
    video = parse_message(peer.video(media_id="v1", thumb_media_id="t1"))
    assert isinstance(video, VideoMessage) and (video.media_id, video.thumb_media_id) == ("v1", "t1")
    assert isinstance(parse_message(peer.video(short=True)), ShortVideoMessage)
    location = parse_message(peer.location(latitude=23.134521, longitude=113.358803, scale=20, label="广州"))
    assert isinstance(location, LocationMessage)
    assert location.location == ("23.134521", "113.358803") and (location.scale, location.label) == ("20", "广州")
    link = parse_message(peer.link(title="标题]]>", description="描述", url="https://e.com/a?b=1&c=2"))
    assert isinstance(link, LinkMessage)
    assert (link.title, link.description, link.url) == ("标题]]>", "描述", "https://e.com/a?b=1&c=2")


def test_events_parse(peer: WeChatPeer) -> None:
    subscribe = parse_message(peer.event("subscribe", user="o_new", create_time=1700000000))
    assert isinstance(subscribe, SubscribeEvent) and subscribe.source == "o_new" and subscribe.time == 1700000000
    assert subscribe.id == 0  # events carry no MsgId; wechatpy defaults it to 0
    assert isinstance(parse_message(peer.event("unsubscribe")), UnsubscribeEvent)
    click = parse_message(peer.event("CLICK", key="HOTLINE_12355"))
    assert isinstance(click, ClickEvent) and click.key == "HOTLINE_12355"
    scan = parse_message(peer.event("subscribe", key="qrscene_42", ticket="T"))
    assert isinstance(scan, SubscribeScanEvent) and (scan.scene_id, scan.ticket) == ("42", "T")
    assert "<MsgId>" not in peer.event("subscribe")


# ----- hostile bodies ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["entity_bomb", "external_entity"])
def test_dtd_bodies_are_refused_by_safe_parsers(peer: WeChatPeer, kind: str) -> None:
    body: str = getattr(peer, kind)()
    assert body.startswith('<?xml version="1.0"?>\n<!DOCTYPE xml [')
    # wechatpy's xmltodict refuses any entity declaration (ValueError, before expanding anything)...
    with pytest.raises(ValueError, match="entities are disabled"):
        parse_message(body)
    # ...and so does defusedxml (its errors are ValueErrors too).
    with pytest.raises(DefusedXmlException):
        DefusedET.fromstring(body)


def test_entity_bomb_really_explodes(peer: WeChatPeer) -> None:
    # A small bomb expands as promised, proving the big one is real: 3 * 10**2 characters at two levels.
    assert ET.fromstring(peer.entity_bomb(levels=2)).findtext("Content") == "lol" * 100


def test_external_entity_names_the_file(peer: WeChatPeer) -> None:
    assert '<!ENTITY xxe SYSTEM "file:///etc/passwd">' in peer.external_entity()
    assert "<Content>&xxe;</Content>" in peer.external_entity()


def test_malformed_is_signed_but_not_xml(peer: WeChatPeer, crypto: WeChatCrypto) -> None:
    body = peer.malformed()
    with pytest.raises(ExpatError):
        parse_message(body)
    with pytest.raises(ET.ParseError):
        ET.fromstring(body)
    # Correctly encrypted and signed, so only the inner parse can reject it.
    params, envelope = peer.envelope(body, mode="aes")
    assert crypto.decrypt_message(envelope, params["msg_signature"], params["timestamp"], params["nonce"]) == body


@pytest.mark.parametrize("n_bytes", [400, 64 * 1024, 64 * 1024 + 1])
def test_oversized_is_exactly_n_bytes_of_valid_message(peer: WeChatPeer, n_bytes: int) -> None:
    xml = peer.oversized(n_bytes)
    assert len(xml.encode("utf-8")) == n_bytes
    message = parse_message(xml)
    assert isinstance(message, TextMessage) and set(message.content) == {"a"}
    with pytest.raises(ValueError):
        peer.oversized(10)


def test_compat_mode_needs_a_complete_document(peer: WeChatPeer) -> None:
    with pytest.raises(ValueError, match="compat"):
        peer.envelope(peer.malformed(), mode="compat")
    params, _ = peer.envelope(peer.malformed(), mode="aes")  # aes mode takes any bytes
    assert params["openid"] == "o_user1"


def _signed(peer: WeChatPeer, encrypt: str, outer: str | None = None) -> tuple[bytes, str]:
    body = outer if outer is not None else f"<xml><Encrypt>{cdata(encrypt)}</Encrypt></xml>"
    return body.encode(), peer.signature("1", "2", encrypt)


def test_wechatpy_decrypt_failures_are_a_zoo_of_exception_types(peer: WeChatPeer, crypto: WeChatCrypto) -> None:
    # What WeChatCrypto.decrypt_message raises on bad bodies that pass (or skip) the signature check. The gateway
    # must catch all of these (struct.error and ExpatError are not ValueErrors; InvalidSignatureException and
    # InvalidAppIdException are plain Exceptions) and answer without a 500 storm of WeChat retries.
    cases: list[tuple[str, bytes, str, type[BaseException]]] = [
        ("no Encrypt element", *_signed(peer, "", peer.text("x")), KeyError),
        ("root not <xml>", *_signed(peer, "", "<foo/>"), KeyError),
        ("empty <xml/>", *_signed(peer, "", "<xml/>"), TypeError),
        ("DTD outside", *_signed(peer, "", peer.entity_bomb()), ValueError),
        ("truncated outside", *_signed(peer, "", peer.malformed()), ExpatError),
        ("not base64", *_signed(peer, "!!!!"), IndexError),  # b64decode without validate: b"" then [-1]
        ("empty Encrypt", *_signed(peer, "", "<xml><Encrypt></Encrypt></xml>"), IndexError),
        ("not whole blocks", *_signed(peer, base64.b64encode(b"x" * 5).decode()), ValueError),
        ("one block", *_signed(peer, base64.b64encode(b"x" * 16).decode()), struct.error),
    ]
    for name, body, signature, expected in cases:
        with pytest.raises(expected):
            crypto.decrypt_message(body, signature, "1", "2")
            pytest.fail(f"wechatpy accepted: {name}")
    # A push encrypted with another key fails in the unpacking, usually as UnicodeDecodeError (a ValueError),
    # sometimes struct.error or InvalidAppIdException, depending on the random bytes.
    stranger = WeChatPeer(token=TOKEN, appid=APPID, aes_key=random_aes_key())
    params, body = stranger.envelope(stranger.text("x"), mode="aes")
    with pytest.raises((ValueError, struct.error, InvalidAppIdException)):
        crypto.decrypt_message(body, params["msg_signature"], params["timestamp"], params["nonce"])


def test_wechatpy_parse_message_on_odd_messages(peer: WeChatPeer) -> None:
    # Pins what odd_message documents: the gateway needs AttributeError and TypeError in its except clause, must
    # check that .content is a str, and must read .id/.time inside it too (wechatpy converts lazily).
    raising: list[tuple[OddKind, type[Exception]]] = [
        ("no_msgtype", KeyError),
        ("empty", TypeError),
        ("nested_msgtype", AttributeError),
        ("duplicate_msgtype", AttributeError),
    ]
    for kind, error in raising:
        with pytest.raises(error):
            parse_message(peer.odd_message(kind))
            pytest.fail(f"wechatpy parsed {kind}")
    nested = parse_message(peer.odd_message("nested_content"))
    assert isinstance(nested, TextMessage) and nested.content == {"b": "x"}
    lazy = parse_message(peer.odd_message("bad_msgid"))
    assert isinstance(lazy, TextMessage)
    with pytest.raises(ValueError):
        _ = lazy.id
    with pytest.raises(ValueError):
        _ = lazy.time
    for kind in get_args(OddKind):
        assert ET.fromstring(peer.odd_message(kind)).tag == "xml"  # all well-formed: only the shape is odd


def test_xmltodict_is_what_wechatpy_parses_with() -> None:
    # The DTD refusal above is xmltodict's default (disable_entities=True); pin it so an upgrade that changes it
    # shows up here rather than as an XXE.
    with pytest.raises(ValueError):
        xmltodict.parse('<!DOCTYPE x [<!ENTITY e "v">]><x>&e;</x>')


# ----- fake WeChat API --------------------------------------------------------------------------------------------


def _token(api: FakeWeChatAPI, appid: str = APPID, secret: str = SECRET) -> dict[str, Any]:
    params = {"grant_type": "client_credential", "appid": appid, "secret": secret}
    result: dict[str, Any] = requests.get(api.token_url, params=params, timeout=2).json()
    return result


def _send(api: FakeWeChatAPI, token: str, content: str = "你好", timeout: float = 2.0) -> requests.Response:
    body: dict[str, Any] = {"touser": "o_user1", "msgtype": "text", "text": {"content": content}}
    return requests.post(
        f"{api.url}/cgi-bin/message/custom/send", params={"access_token": token}, json=body, timeout=timeout
    )


class FakeClient(WeChatClient):
    """What the gateway must do to aim wechatpy at the fake: a base URL *and* its own token fetch."""

    def __init__(self, api: FakeWeChatAPI, timeout: float = 2.0) -> None:
        super().__init__(APPID, SECRET, timeout=timeout)
        self.API_BASE_URL = api.api_base_url
        self._token_url = api.token_url

    def fetch_access_token(self) -> dict[str, Any]:
        params = {"grant_type": "client_credential", "appid": self.appid, "secret": self.secret}
        result: dict[str, Any] = self._fetch_access_token(url=self._token_url, params=params)
        return result


@pytest.fixture
def api() -> Any:
    with FakeWeChatAPI(appid=APPID, secret=SECRET, delay=0.3) as server:
        yield server


def test_fake_api_issues_a_token_and_delivers(api: FakeWeChatAPI) -> None:
    assert api.port > 0 and api.url == f"http://127.0.0.1:{api.port}"
    token = _token(api)
    assert token["expires_in"] == 7200 and token["access_token"]
    response = _send(api, token["access_token"], "救命 😭")
    assert response.status_code == 200 and response.json() == {"errcode": 0, "errmsg": "ok"}
    expected = {"touser": "o_user1", "msgtype": "text", "text": {"content": "救命 😭"}}
    assert api.wait_for(1) == [expected] and api.delivered == [expected]
    assert api.token_requests == 1 and api.outcomes == {"ok": 1}


def test_fake_api_token_checks_credentials(api: FakeWeChatAPI) -> None:
    assert _token(api, appid="wxwrong")["errcode"] == 40013
    assert _token(api, secret="wrong")["errcode"] == 40125
    bad_grant = requests.get(api.token_url, params={"grant_type": "password"}, timeout=2).json()
    assert bad_grant["errcode"] == 40002
    assert api.token_requests == 3


def test_fake_api_refuses_bad_tokens_and_bodies(api: FakeWeChatAPI) -> None:
    assert _send(api, "forged").json()["errcode"] == 40001
    assert _send(api, "").json()["errcode"] == 41001
    token = _token(api)["access_token"]
    not_json = requests.post(
        f"{api.url}/cgi-bin/message/custom/send", params={"access_token": token}, data=b"{oops", timeout=2
    )
    assert not_json.json()["errcode"] == 47001
    api.expire_tokens()
    assert _send(api, token).json()["errcode"] == 40001
    assert api.outcomes == {"40001": 2, "41001": 1, "47001": 1}
    assert api.delivered == [] and len(api.received) == 3  # the non-JSON body is not a record


@pytest.mark.parametrize(("mode", "errcode"), [("45015", 45015), ("error", -1)])
def test_fake_api_error_modes(api: FakeWeChatAPI, mode: str, errcode: int) -> None:
    api.mode = mode
    response = _send(api, _token(api)["access_token"])
    assert response.status_code == 200 and response.json()["errcode"] == errcode
    assert len(api.received) == 1 and api.delivered == [] and api.outcomes == {mode: 1}


def test_fake_api_http500(api: FakeWeChatAPI) -> None:
    api.mode = "http500"
    response = _send(api, _token(api)["access_token"])
    assert response.status_code == 500
    with pytest.raises(ValueError):
        response.json()


def test_fake_api_timeout_mode_delivers_late(api: FakeWeChatAPI) -> None:
    api.mode = "timeout"
    token = _token(api)["access_token"]
    started = time.monotonic()
    with pytest.raises(requests.exceptions.ReadTimeout):
        _send(api, token, timeout=0.05)
    assert time.monotonic() - started < 0.25
    assert len(api.wait_for(1)) == 1 and api.delivered == []
    # The client gave up, yet the message arrives: a retry now would be a duplicate.
    assert len(api.wait_for(1, timeout=2, delivered=True)) == 1


def test_fake_api_script_is_consumed_in_order(api: FakeWeChatAPI) -> None:
    api.script = ["45015", "ok", "error"]
    api.mode = "http500"
    token = _token(api)["access_token"]
    results = [_send(api, token, str(i)) for i in range(4)]
    assert [r.json()["errcode"] for r in results[:3]] == [45015, 0, -1]
    assert results[3].status_code == 500
    assert api.script == [] and [body["text"]["content"] for body in api.delivered] == ["1"]
    api.script.append("ok")  # the live list
    assert _send(api, token).json()["errcode"] == 0


def test_fake_api_validates_modes() -> None:
    api = FakeWeChatAPI()
    assert set(MODES) == {"ok", "45015", "timeout", "error", "http500"}
    with pytest.raises(ValueError):
        api.mode = "slow"
    with pytest.raises(ValueError):
        api.script = ["ok", "nope"]
    with pytest.raises(ValueError):
        FakeWeChatAPI(mode="nope")


def test_fake_api_wait_for_times_out(api: FakeWeChatAPI) -> None:
    started = time.monotonic()
    with pytest.raises(TimeoutError, match="0 of 1 sends received"):
        api.wait_for(1, timeout=0.05)
    assert time.monotonic() - started < 0.5


def test_fake_api_stop_and_restart_on_the_same_port() -> None:
    api = FakeWeChatAPI(appid=APPID, secret=SECRET).start()
    try:
        port = api.port
        token = _token(api)["access_token"]
        assert _send(api, token).json()["errcode"] == 0
        api.stop()
        api.stop()  # idempotent
        with pytest.raises(requests.exceptions.ConnectionError):
            _token(api)
        api.start()
        assert api.port == port
        # State survives the restart: the token is still good, the records are kept.
        assert _send(api, token).json()["errcode"] == 0
        assert len(api.delivered) == 2
        with pytest.raises(RuntimeError):
            api.start()
        api.reset()
        assert (api.received, api.token_requests, api.outcomes) == ([], 0, {})
    finally:
        api.stop()


def test_fake_api_port_in_use_raises_at_start(api: FakeWeChatAPI) -> None:
    with pytest.raises(OSError):
        FakeWeChatAPI(port=api.port).start()


def test_fake_api_stop_does_not_wait_for_a_slow_answer() -> None:
    api = FakeWeChatAPI(appid=APPID, secret=SECRET, mode="timeout", delay=30).start()
    try:
        token = _token(api)["access_token"]
        with pytest.raises(requests.exceptions.ReadTimeout):
            _send(api, token, timeout=0.05)
        api.wait_for(1)
    finally:
        started = time.monotonic()
        api.stop()
    assert time.monotonic() - started < 2


def test_wechatpy_client_against_the_fake_api(api: FakeWeChatAPI) -> None:
    client = FakeClient(api)
    assert client.message.send_text("o_user1", "在的，我在听。") == {"errcode": 0, "errmsg": "ok"}
    assert api.delivered[-1] == {"touser": "o_user1", "msgtype": "text", "text": {"content": "在的，我在听。"}}
    assert api.token_requests == 1

    # An expired token: wechatpy refetches once and retries, transparently.
    api.expire_tokens()
    client.message.send_text("o_user1", "retry")
    assert api.token_requests == 2 and api.outcomes["40001"] == 1 and api.delivered[-1]["text"]["content"] == "retry"

    api.script = ["45015", "error", "http500"]
    with pytest.raises(WeChatClientException) as closed_window:
        client.message.send_text("o_user1", "too late")
    assert closed_window.value.errcode == 45015
    with pytest.raises(WeChatClientException) as busy:
        client.message.send_text("o_user1", "busy")
    assert busy.value.errcode == -1
    with pytest.raises(WeChatClientException) as http_error:
        client.message.send_text("o_user1", "500")
    assert http_error.value.errcode is None


def test_wechatpy_client_timeout_is_a_requests_exception(api: FakeWeChatAPI) -> None:
    # Not a WeChatClientException: the gateway must catch requests' Timeout (or RequestException) as well.
    client = FakeClient(api, timeout=0.05)
    client.fetch_access_token()
    api.mode = "timeout"
    with pytest.raises(requests.exceptions.Timeout):
        client.message.send_text("o_user1", "slow")


async def test_fake_api_from_an_async_test() -> None:
    # The fake runs its own loop in its own thread, so an async test's loop only has to run the client.
    with FakeWeChatAPI(appid=APPID, secret=SECRET) as api:
        async with aiohttp.ClientSession() as session:
            query = {"grant_type": "client_credential", "appid": APPID, "secret": SECRET}
            async with session.get(api.token_url, params=query) as response:
                token = (await response.json())["access_token"]
            body = {"touser": "o_async", "msgtype": "text", "text": {"content": "异步"}}
            url = f"{api.url}/cgi-bin/message/custom/send"
            async with session.post(url, params={"access_token": token}, json=body) as response:
                assert (await response.json())["errcode"] == 0
        assert (await asyncio.to_thread(api.wait_for, 1, 1.0, delivered=True)) == [body]
