"""The conversation policy, as pure functions: no app, no database."""

from __future__ import annotations

import pytest

from bot.conversation import (
    ATTACHED_REPLY,
    GREETING_REPLY,
    HANDOVER_AGAIN_REPLY,
    HANDOVER_REPLY,
    ORANGE_REPLY,
    RED_REPLY,
    WELCOME_REPLY,
    YELLOW_REPLY,
    CaseState,
    Incoming,
    Kind,
    MenuKey,
    decide,
    sanitize_reply,
    split_utf8,
    wants_person,
)
from knowledge import Answer
from triage.labels import Category, Urgency, Verdict
from triage.queue import CaseStatus


def verdict(urgency: Urgency, category: Category = Category.OTHER) -> Verdict:
    return Verdict(urgency, category, 0.9)


def text(t: str = "消息") -> Incoming:
    return Incoming(Kind.TEXT, t)


def case(
    status: CaseStatus = CaseStatus.WAITING, urgency: Urgency = Urgency.YELLOW, handover: bool = False
) -> CaseState:
    return CaseState(7, urgency, status, handover)


CITED = Answer("问", "根据《某法》第一条：……", abstained=False)
ABSTAINED = Answer("问", "这个问题我没有找到依据，可以拨打12355或回复“转人工”。", abstained=True)


@pytest.mark.parametrize("category", [Category.SUICIDE_SELFHARM, Category.FAMILY_VIOLENCE, Category.MISSING])
def test_red_replies_at_once_opens_a_case_and_alerts(category: Category) -> None:
    decision = decide(text(), verdict(Urgency.RED, category), None, None)
    assert decision.reply is not None and decision.reply.startswith(RED_REPLY)
    for needle in ("你现在安全吗", "110", "120", "12355", "安全的地方"):
        assert needle in decision.reply
    assert decision.open_case and decision.case_urgency is Urgency.RED and decision.alert and decision.attach
    assert ("药" in decision.reply) is (category is Category.SUICIDE_SELFHARM)


@pytest.mark.parametrize(("urgency", "reply"), [(Urgency.ORANGE, ORANGE_REPLY), (Urgency.YELLOW, YELLOW_REPLY)])
def test_orange_and_yellow_open_a_case_and_offer_a_person(urgency: Urgency, reply: str) -> None:
    decision = decide(text(), verdict(urgency, Category.SCHOOL_VIOLENCE), None, None)
    assert decision.reply == reply and "转人工" in reply and "12355" in reply
    assert decision.open_case and decision.case_urgency is urgency and not decision.alert
    assert decision.case_category is Category.SCHOOL_VIOLENCE


def test_blue_gives_the_cited_answer_or_an_abstention_and_no_case() -> None:
    cited = decide(text(), verdict(Urgency.BLUE, Category.POLICY), CITED, None)
    assert cited.reply is not None and cited.reply.startswith(CITED.answer) and not cited.open_case
    abstained = decide(text(), verdict(Urgency.BLUE, Category.POLICY), ABSTAINED, None)
    assert abstained.reply == ABSTAINED.answer and not abstained.open_case
    chat = decide(text("你好呀"), verdict(Urgency.BLUE), None, None)
    assert chat.reply == GREETING_REPLY


@pytest.mark.parametrize("words", ["转人工", "人工", "找真人", "我要转人工！", "轉人工", " 人工 ", "人工吗"])
def test_handover_words(words: str) -> None:
    assert wants_person(words)
    decision = decide(text(words), verdict(Urgency.BLUE), None, None)
    assert decision.reply == HANDOVER_REPLY and decision.open_case and decision.handover


@pytest.mark.parametrize("words", ["人工智能能帮我写作业吗", "我讨厌人工", "真人秀好看吗", ""])
def test_not_handover_words(words: str) -> None:
    assert not wants_person(words)


def test_handover_twice_says_so_and_opens_nothing_new() -> None:
    decision = decide(text("转人工"), verdict(Urgency.BLUE), None, case(handover=True))
    assert decision.reply == HANDOVER_AGAIN_REPLY and not decision.open_case and decision.handover


def test_menu_human_key_hands_over() -> None:
    decision = decide(Incoming(Kind.MENU, menu_key=MenuKey.HUMAN), None, None, None)
    assert decision.reply == HANDOVER_REPLY and decision.open_case and decision.handover


def test_later_messages_attach_and_urgency_only_rises() -> None:
    open_orange = case(urgency=Urgency.ORANGE)
    lower = decide(text(), verdict(Urgency.YELLOW), None, open_orange)
    assert lower.attach and lower.case_urgency is None and not lower.open_case and lower.reply == ATTACHED_REPLY
    higher = decide(text(), verdict(Urgency.RED), None, open_orange)
    assert higher.attach and higher.case_urgency is Urgency.RED and not higher.open_case and higher.alert
    yellow_case = case(urgency=Urgency.YELLOW)
    raised = decide(text(), verdict(Urgency.ORANGE), None, yellow_case)
    assert raised.case_urgency is Urgency.ORANGE and raised.reply == ORANGE_REPLY


def test_operator_owned_conversation_bot_stays_quiet_except_red() -> None:
    owned = case(CaseStatus.CLAIMED)
    for urgency in (Urgency.BLUE, Urgency.YELLOW, Urgency.ORANGE):
        decision = decide(text(), verdict(urgency), CITED, owned)
        assert decision.reply is None and decision.attach
    assert decide(Incoming(Kind.MEDIA, media_label="图片"), None, None, owned).reply is None
    assert decide(Incoming(Kind.MENU, menu_key=MenuKey.POLICY), None, None, owned).reply is None
    assert decide(text("转人工"), verdict(Urgency.BLUE), None, owned).reply is None
    red = decide(text(), verdict(Urgency.RED), None, owned)
    assert red.reply is not None and red.reply.startswith(RED_REPLY) and red.alert
    # The operator's case is raised, not duplicated.
    assert not red.open_case and red.case_urgency is Urgency.RED


def test_events() -> None:
    welcome = decide(Incoming(Kind.SUBSCRIBE), None, None, None)
    assert welcome.reply == WELCOME_REPLY and welcome.subscribe
    bye = decide(Incoming(Kind.UNSUBSCRIBE), None, None, None)
    assert bye.reply is None and bye.unsubscribe
    assert decide(Incoming(Kind.OTHER_EVENT), None, None, None).reply is None
    for key in MenuKey:
        assert decide(Incoming(Kind.MENU, menu_key=key), None, None, None).reply
    assert decide(Incoming(Kind.MENU, menu_key="UNKNOWN"), None, None, None).reply == GREETING_REPLY


def test_media_attaches_only_to_an_open_case() -> None:
    alone = decide(Incoming(Kind.MEDIA, media_label="图片"), None, None, None)
    assert alone.reply is not None and "图片" in alone.reply and not alone.attach and not alone.open_case
    attached = decide(Incoming(Kind.MEDIA, media_label="位置"), None, None, case())
    assert attached.attach and attached.reply is not None and "位置" in attached.reply


def test_sanitize_reply_strips_control_characters() -> None:
    assert sanitize_reply("a\x00b\x07c\x1bd\ne\tf\x7f") == "abcd\ne\tf"
    assert sanitize_reply("ok\ud800") == "ok"


@pytest.mark.parametrize("size", [1, 100, 2048, 2049, 5000, 20000])
def test_split_utf8_respects_the_byte_limit_and_loses_nothing(size: int) -> None:
    body = ("儿童保护很重要😀。\n" * size)[:size]
    parts = split_utf8(body)
    assert all(len(p.encode("utf-8")) <= 2048 for p in parts)
    assert "".join(parts).replace("\n", "") == body.replace("\n", "")
    assert len(parts) == 1 or len(body.encode()) > 2048


def test_split_utf8_never_cuts_a_character() -> None:
    parts = split_utf8("😀" * 1000, limit=10)
    assert all(p == "😀" * len(p) for p in parts) and sum(map(len, parts)) == 1000
