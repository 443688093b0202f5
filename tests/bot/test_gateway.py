"""The pipeline across restarts and failures: stored before answered, nothing lost."""

from __future__ import annotations

import asyncio
import gc
from functools import partial
from typing import Any

from bot import store
from bot.app import GC_YOUNG_THRESHOLD, create_app
from bot.db.models import Channel, Direction, Message, MessageKind, OutboxItem, OutboxStatus
from bot.gateway import FALLBACK_VERDICT, ROUND_MAX, _RoundGrader
from bot.keys import GATEWAY, WRITER
from bot.settings import Settings
from triage import Classifier
from triage.labels import Urgency

from .conftest import AES_KEY, APPID, TOKEN, MakeClient, queue, rows
from .wechat_peer import WeChatPeer

RED_TEXT = "我今晚就把攒的安眠药全吃了，再见了"


async def test_a_message_stored_before_a_crash_is_answered_after_restart(make_client: MakeClient) -> None:
    first = await make_client()
    # The process stores the message and dies before grading it.
    inbound = store.make_inbound(Channel.WECHAT, "o_crash", MessageKind.TEXT, text=RED_TEXT, dedupe_key="wechat:msg:1")
    await first.app[WRITER].run(partial(store.ingest, inbound=inbound))
    web = store.make_inbound(Channel.WEB, "s_crash_session_1", MessageKind.TEXT, text=RED_TEXT)
    await first.app[WRITER].run(partial(store.ingest, inbound=web))
    await first.close()

    second = await make_client()  # same database file
    messages = rows(second, Message)
    assert all(m.handled_at is not None for m in messages if m.direction is Direction.INBOUND)
    assert len(queue(second)) == 2 and all(c.urgency is Urgency.RED for c in queue(second))
    # WeChat: the passive window is long gone, so the reply waits in the outbox for the customer-service API.
    [item, *_rest] = [o for o in rows(second, OutboxItem) if o.openid == "o_crash"]
    assert item.status is OutboxStatus.PENDING and "你现在安全吗" in item.text
    # Web: the page gets it by polling.
    response = await second.get("/api/chat/updates", params={"session": "s_crash_session_1", "after": "0"})
    [late] = (await response.json())["messages"]
    assert "你现在安全吗" in late["text"]
    # And a WeChat retry of the crashed message does not store or open anything new.
    assert await second.app[GATEWAY].recover() == 0


class ExplodingClassifier(Classifier):
    def __init__(self) -> None:  # no model: it only raises
        pass

    def classify(self, text: str) -> Any:
        raise RuntimeError("model file corrupted")


async def test_a_classifier_failure_sends_the_message_to_a_person(
    peer: WeChatPeer, aiohttp_client: Any, tmp_path: Any, kb: Any
) -> None:
    settings = Settings(data_dir=tmp_path, wechat_token=TOKEN, wechat_aes_key=AES_KEY, wechat_appid=APPID)
    client = await aiohttp_client(create_app(settings, classifier=ExplodingClassifier(), knowledge_base=kb))
    params, body = peer.envelope(peer.text("随便说点什么"))
    response = await client.post("/wechat", params=params, data=body)
    assert response.status == 200
    reply = peer.read_reply(await response.read())
    assert reply is not None and "12355" in reply["Content"]
    [case] = queue(client)
    assert case.urgency is Urgency.ORANGE  # a person looks at it; nothing is dropped


async def test_a_red_flag_deep_in_a_long_message(make_client: MakeClient, peer: WeChatPeer) -> None:
    client = await make_client()
    filler = "今天上学路上看到很多花，老师讲了分数的加减法，中午吃了番茄炒蛋。" * 40
    text = filler[:900] + "其实我已经写好遗书了，今晚等他们睡着我就去跳河。" + filler[:900]
    params, body = peer.envelope(peer.text(text, user="o_long"))
    response = await client.post("/wechat", params=params, data=body)
    reply = peer.read_reply(await response.read())
    assert reply is not None and "你现在安全吗" in reply["Content"]
    assert queue(client)[0].urgency is Urgency.RED


class FlakyClassifier(Classifier):
    """The real model, except that it fails on one text."""

    def __init__(self, real: Classifier, poison: str) -> None:
        self.real, self.poison = real, poison

    def classify(self, text: str) -> Any:
        if text == self.poison:
            raise RuntimeError("a bug on this one message")
        return self.real.classify(text)


async def test_messages_arriving_together_are_graded_in_one_round_with_the_same_verdicts(
    classifier: Classifier, kb: Any
) -> None:
    texts = ["你好", RED_TEXT, "未成年人是指多大年纪以下的人？", "爸妈天天吵架，我心里很难受", "会崩溃的消息"]
    grader = _RoundGrader(FlakyClassifier(classifier, poison="会崩溃的消息"), kb)
    results = await asyncio.gather(*(grader.grade(t) for t in texts))
    assert (grader.rounds, grader.graded) == (1, len(texts))
    for text, (verdict, answer) in zip(texts[:-1], results[:-1], strict=True):
        assert verdict == classifier.classify(text)
        assert (answer is not None) == (verdict.urgency is Urgency.BLUE)
    assert results[1][0].urgency is Urgency.RED
    # One failing message does not take the round down with it: it goes to a person.
    assert results[-1] == (FALLBACK_VERDICT, None)
    # A later message starts a new round.
    await grader.grade("谢谢")
    assert (grader.rounds, grader.graded) == (2, len(texts) + 1)


async def test_a_backlog_is_graded_over_several_turns_of_the_loop(classifier: Classifier, kb: Any) -> None:
    grader = _RoundGrader(classifier, kb)
    backlog = [f"你好，第{i}条" for i in range(ROUND_MAX * 2 + 1)]
    results = await asyncio.gather(*(grader.grade(t) for t in backlog))
    assert (grader.rounds, grader.graded) == (3, len(backlog))
    assert [v for v, _ in results] == [classifier.classify(t) for t in backlog]  # in order, none dropped


async def test_a_serving_app_freezes_its_start_up_heap_and_restores_the_collector(
    aiohttp_client: Any, tmp_path: Any, classifier: Classifier, kb: Any
) -> None:
    thresholds = gc.get_threshold()
    app = create_app(Settings(data_dir=tmp_path), classifier=classifier, knowledge_base=kb, freeze_heap=True)
    client = await aiohttp_client(app)
    try:
        assert gc.get_freeze_count() > 10_000  # the model, the index and the libraries
        assert gc.get_threshold()[0] == GC_YOUNG_THRESHOLD
        response = await client.post("/api/chat", json={"session": "s_gc_test_session_1", "text": "你好"})
        assert response.status == 200
    finally:
        await client.close()
    assert gc.get_freeze_count() == 0 and gc.get_threshold() == thresholds
