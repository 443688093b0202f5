"""Conversation policy (pure): what to say and what to do with the hotline queue.

The handlers parse a transport, the store persists, and this module decides —
from the message, its verdict, the knowledge base's answer and the
conversation's state — the reply and the case action. It imports nothing from
aiohttp, wechatpy or SQLAlchemy, so every rule below is tested as a function.

Rules (``taxonomy.md`` gives the system response per level):

- red: reply at once with what to do now (110 / 120, 12355, stay somewhere
  safe, "你现在安全吗？"), open a case at the top of the queue, alert operators.
  A red-flag safety reply is sent even while an operator owns the conversation.
- orange, yellow: a warm counsellor's reply, open a case, offer a person.
- blue: the knowledge base's cited answer, or an abstention offering 12355 and
  a person; no case.
- "转人工 / 人工 / 找真人" (or the menu key) at any time hands over to a person:
  a case is opened if none is open, and marked as asking for a person.
- While an operator owns the conversation (its case is claimed) the bot says
  nothing of its own, except the red-flag safety reply.
- A conversation's later messages attach to its open case; the case's urgency
  only rises automatically.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from knowledge import Answer
from knowledge.text import normalize
from triage.labels import Category, Urgency, Verdict
from triage.queue import CaseStatus


class Kind(StrEnum):
    """What arrived, as far as the policy cares."""

    TEXT = "text"  # typed text, or a voice message's recognised text
    VOICE_UNRECOGNISED = "voice_unrecognised"
    MEDIA = "media"  # image, video, location, link
    SUBSCRIBE = "subscribe"
    UNSUBSCRIBE = "unsubscribe"
    MENU = "menu"  # a menu CLICK; see MenuKey
    OTHER_EVENT = "other_event"


class MenuKey(StrEnum):
    """Custom-menu CLICK keys configured on the official account."""

    HELP = "HELP"  # 求助
    POLICY = "POLICY"  # 政策咨询
    TIP = "TIP"  # 匿名举报
    HUMAN = "HUMAN"  # 转人工


@dataclass(frozen=True, slots=True)
class Incoming:
    kind: Kind
    text: str = ""
    menu_key: str | None = None
    media_label: str = ""  # e.g. "图片", "位置"


@dataclass(frozen=True, slots=True)
class CaseState:
    """The conversation's open case, if any."""

    case_id: int
    urgency: Urgency
    status: CaseStatus
    handover_requested: bool = False

    @property
    def operator_owns(self) -> bool:
        return self.status is CaseStatus.CLAIMED


@dataclass(frozen=True, slots=True)
class Decision:
    """What to do: the reply (None = stay silent) and the case action."""

    reply: str | None
    open_case: bool = False  # open a new case (there is none open)
    case_urgency: Urgency | None = None  # urgency for a new case, or to raise the open one to
    case_category: Category | None = None
    attach: bool = False  # attach this message to the (open or new) case
    handover: bool = False  # the person asked for a human
    alert: bool = False  # tell operators now (red)
    unsubscribe: bool = False
    subscribe: bool = False


HANDOVER_RE = re.compile(
    r"^(?:请|我要|我想|帮我|能)?(?:转人工|转接人工|人工客服|人工服务|人工|找真人|真人|找人工|要人工|真人客服|找工作人员)"
    r"(?:吗|吧|呢)?[!?。.~～]*$"
)

RED_REPLY = (
    "你现在安全吗？你的消息我们收到了，这很重要。\n"
    "如果有人正在伤害你，或者你有生命危险，请马上拨打110；受伤或身体不舒服请拨打120。\n"
    "请先待在安全的地方，尽量让身边信得过的大人知道。\n"
    "12355青少年服务台的工作人员正在赶来，请不要离开，继续在这里告诉我们你在哪里、发生了什么。"
)
RED_SELF_HARM_EXTRA = "如果身边有药、刀或其他危险的东西，请先把它们放远一点。你不是一个人，我们在这里陪你。"
ORANGE_REPLY = (
    "谢谢你愿意告诉我们，说出来需要很大的勇气，发生这些不是你的错。\n"
    "我们已经把你的情况交给12355青少年服务台的工作人员，今天之内会有人在这里联系你。"
    "想现在就和真人说话，请回复“转人工”，或拨打12355（免费、保密）。\n"
    "如果情况突然变得危险，请马上拨打110。"
)
YELLOW_REPLY = (
    "谢谢你告诉我们，听起来这件事让你很困扰。\n"
    "我们已经记下来了，12355的工作人员会在一个工作日内联系你，陪你一起想办法。"
    "想现在就和真人聊聊，请回复“转人工”，或拨打12355（免费、保密）。"
)
ATTACHED_REPLY = "收到，已经补充到你的求助记录里，工作人员会看到。需要马上找人请回复“转人工”；遇到危险请拨打110。"
HANDOVER_REPLY = (
    "好的，正在为你转接12355青少年服务台的工作人员，请稍等，工作人员会在这里回复你。如果情况紧急，请直接拨打110或120。"
)
HANDOVER_AGAIN_REPLY = "已经在为你转接工作人员了，请稍等；你可以继续在这里留言，工作人员都会看到。"
GREETING_REPLY = (
    "你好！我是护苗小助手。你可以问我儿童保护方面的政策，也可以把遇到的困难告诉我，我们会保密。\n"
    "想找真人请回复“转人工”，或拨打12355；遇到危险请马上拨打110。"
)
WELCOME_REPLY = (
    "欢迎关注护苗 · 12355青少年服务。\n"
    "这里可以：求助（被欺负、被伤害、心里难受都可以说）、咨询儿童保护政策、匿名举报侵害未成年人的事。\n"
    "你说的话我们会保密，只有帮助你的工作人员能看到。\n"
    "随时回复“转人工”就能找到真人；紧急危险请拨打110，医疗急救拨打120，青少年热线12355。"
)
MENU_REPLIES = {
    MenuKey.HELP: "请告诉我们发生了什么：是谁、在哪里、现在安不安全。你说的话会保密。如果正处在危险中，请马上拨打110。",
    MenuKey.POLICY: "请直接输入你想咨询的问题，例如“事实无人抚养儿童有什么补助？”“被家暴了可以申请人身安全保护令吗？”",
    MenuKey.TIP: (
        "匿名举报：请写下你知道的情况——孩子大概多大、在哪里、发生了什么、现在是否还在危险中。"
        "不需要留下你的名字。如果孩子正处在危险中，请立即拨打110。"
    ),
}
VOICE_UNRECOGNISED_REPLY = "抱歉，这段语音我没能听清，可以打字告诉我吗？需要找真人请回复“转人工”，遇到危险请拨打110。"
POLICY_FOOTER = "\n还有问题可以继续问我，或回复“转人工”、拨打12355。"


def wants_person(text: str) -> bool:
    """True for a request to talk to a person ("转人工", "人工", "找真人" …)."""
    return bool(HANDOVER_RE.match(normalize(text).replace(" ", "")))


def _media_reply(label: str, case: CaseState | None) -> str:
    thing = label or "内容"
    if case is not None:
        return f"收到你发来的{thing}，已经附到你的求助记录里，工作人员会查看。"
    return f"收到你发来的{thing}。如果需要帮助，请用文字告诉我们发生了什么，或回复“转人工”找工作人员。"


def _red_reply(verdict: Verdict) -> str:
    if verdict.category is Category.SUICIDE_SELFHARM:
        return RED_REPLY + "\n" + RED_SELF_HARM_EXTRA
    return RED_REPLY


def _blue_reply(verdict: Verdict, answer: Answer | None) -> str:
    if answer is None or answer.abstained:
        if verdict.category is Category.POLICY and answer is not None:
            return answer.answer  # the abstention text already offers 12355 and a person
        return GREETING_REPLY
    return answer.answer + POLICY_FOOTER


def _handover(verdict: Verdict | None, case: CaseState | None) -> Decision:
    urgency = verdict.urgency if verdict is not None else Urgency.BLUE
    category = verdict.category if verdict is not None else Category.OTHER
    if case is None:
        return Decision(
            HANDOVER_REPLY,
            open_case=True,
            case_urgency=urgency,
            case_category=category,
            attach=True,
            handover=True,
            alert=urgency is Urgency.RED,
        )
    if case.operator_owns:
        return Decision(None, attach=True, handover=True)
    reply = HANDOVER_AGAIN_REPLY if case.handover_requested else HANDOVER_REPLY
    return Decision(reply, case_urgency=urgency, attach=True, handover=True)


def decide(incoming: Incoming, verdict: Verdict | None, answer: Answer | None, case: CaseState | None) -> Decision:
    """The reply and case action for one inbound message (see the module docstring)."""
    if incoming.kind is Kind.SUBSCRIBE:
        return Decision(WELCOME_REPLY, subscribe=True)
    if incoming.kind is Kind.UNSUBSCRIBE:
        return Decision(None, unsubscribe=True)
    if incoming.kind is Kind.OTHER_EVENT:
        return Decision(None)
    if incoming.kind is Kind.MENU:
        if incoming.menu_key == MenuKey.HUMAN:
            return _handover(None, case)
        text = {k.value: v for k, v in MENU_REPLIES.items()}.get(incoming.menu_key or "")
        return Decision(None if case is not None and case.operator_owns else (text or GREETING_REPLY))
    if incoming.kind is Kind.MEDIA:
        owned = case is not None and case.operator_owns
        return Decision(None if owned else _media_reply(incoming.media_label, case), attach=case is not None)
    if incoming.kind is Kind.VOICE_UNRECOGNISED:
        owned = case is not None and case.operator_owns
        return Decision(None if owned else VOICE_UNRECOGNISED_REPLY, attach=case is not None)

    assert verdict is not None, "text messages are graded before the policy runs"
    urgency = verdict.urgency
    if urgency is Urgency.RED:
        # Red always gets the safety reply, owner or not, and always alerts.
        return Decision(
            _red_reply(verdict),
            open_case=case is None,
            case_urgency=Urgency.RED,
            case_category=verdict.category,
            attach=True,
            alert=True,
        )
    if wants_person(incoming.text):
        return _handover(verdict, case)
    if case is not None:
        # Attach to the open case; its urgency may only rise.
        raise_to = urgency if urgency.rank > case.urgency.rank else None
        if case.operator_owns:
            return Decision(None, case_urgency=raise_to, attach=True)
        if urgency is Urgency.BLUE:
            return Decision(_blue_reply(verdict, answer), attach=True)
        return Decision(
            ATTACHED_REPLY if raise_to is None else _level_reply(urgency), case_urgency=raise_to, attach=True
        )
    if urgency is Urgency.BLUE:
        return Decision(_blue_reply(verdict, answer))
    return Decision(
        _level_reply(urgency), open_case=True, case_urgency=urgency, case_category=verdict.category, attach=True
    )


def _level_reply(urgency: Urgency) -> str:
    return ORANGE_REPLY if urgency is Urgency.ORANGE else YELLOW_REPLY


# --------------------------------------------------------------------------- reply text for WeChat

_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
WECHAT_TEXT_LIMIT = 2048  # bytes of UTF-8 per text message


def sanitize_reply(text: str) -> str:
    """Remove control characters (XML 1.0 cannot carry them) and lone surrogates."""
    return _CONTROL_RE.sub("", text)


def split_utf8(text: str, limit: int = WECHAT_TEXT_LIMIT) -> list[str]:
    """Split ``text`` into parts of at most ``limit`` UTF-8 bytes, preferring line breaks."""
    parts: list[str] = []
    rest = text
    while len(rest.encode("utf-8")) > limit:
        # Largest prefix that fits, then back off to the last newline in its second half.
        lo, hi = 0, len(rest)
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if len(rest[:mid].encode("utf-8")) <= limit:
                lo = mid
            else:
                hi = mid - 1
        cut = lo
        newline = rest.rfind("\n", cut // 2, cut)
        if newline > 0:
            cut = newline + 1
        parts.append(rest[:cut].rstrip("\n"))
        rest = rest[cut:]
    if rest or not parts:
        parts.append(rest)
    return parts
