"""The message pipeline shared by every channel: store, grade, decide, record.

1. The classifier grades text and, for blue messages, the knowledge base
   answers. Both are pure. Short messages are graded on the event loop, a
   round at a time: every message that reached the grading step in one turn
   of the loop is graded in one callback, back to back, instead of each
   between HTTP parsing and database work. The model's vocabularies and the
   index then stay in the CPU caches: under load this cut the server's CPU
   time per message by a quarter (bench/gateway). Long messages are graded in
   a worker thread.
2. ``store.receive``, one writer job: the message is deduplicated by its key
   and stored, the conversation policy runs on the current case state, and
   the message, its grade, the reply, the case change and the outbox rows are
   committed together. Nothing is answered before that commit.

Channels call :meth:`Gateway.submit` and wait for the returned
:class:`Pending` as long as their transport allows. A WeChat retry of a
message still in flight joins the first attempt instead of starting another.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from dataclasses import dataclass, field
from functools import partial

from bot import store
from bot.conversation import Kind
from bot.db.writer import Writer
from bot.events import CaseEvent, CaseEvents
from bot.logsafe import describe
from knowledge import Answer, KnowledgeBase
from triage import Classifier
from triage.labels import Category, Urgency, Verdict

log = logging.getLogger(__name__)

ANSWERED_MEMORY = 10_000
LONG_TEXT_CHARS = 240  # longer messages are graded in a worker thread
# At most this many messages per grading round (~0.3 ms each): a larger backlog is graded over several turns of the
# loop, so that replies already decided are written out in between.
ROUND_MAX = 64
FALLBACK_VERDICT = Verdict(Urgency.ORANGE, Category.OTHER, 0.0, {}, ("分类失败: 转人工复核",))


@dataclass(slots=True)
class Pending:
    """One message going through the pipeline."""

    task: asyncio.Task[store.Outcome]
    stored: asyncio.Event = field(default_factory=asyncio.Event)
    duplicate: bool = False


GradeResult = tuple[Verdict, Answer | None]


class _RoundGrader:
    """Grades short texts in rounds: one loop callback per round, for every text queued before it ran."""

    def __init__(self, classifier: Classifier, kb: KnowledgeBase) -> None:
        self.classifier = classifier
        self.kb = kb
        self._queued: list[tuple[str, asyncio.Future[GradeResult]]] = []
        self.rounds = 0
        self.graded = 0

    def grade(self, text: str) -> asyncio.Future[GradeResult]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[GradeResult] = loop.create_future()
        self._queued.append((text, future))
        if len(self._queued) == 1:
            loop.call_soon(self._run_round)  # after the tasks already scheduled in this turn have queued theirs
        return future

    def _run_round(self) -> None:
        queued, self._queued = self._queued[:ROUND_MAX], self._queued[ROUND_MAX:]
        if self._queued:
            asyncio.get_running_loop().call_soon(self._run_round)
        self.rounds += 1
        self.graded += len(queued)
        # Two passes (all grades, then all answers) keep one model's data in the caches at a time.
        verdicts = [_classify_safely(self.classifier, text) for text, _ in queued]
        for (text, future), verdict in zip(queued, verdicts, strict=True):
            answer = _answer_safely(self.kb, text) if verdict.urgency is Urgency.BLUE else None
            if not future.done():  # a cancelled waiter (its request went away) needs nothing
                future.set_result((verdict, answer))


def _classify_safely(classifier: Classifier, text: str) -> Verdict:
    try:
        return classifier.classify(text)
    except Exception as exc:  # never lose a message to a classifier bug: send it to a person
        log.error("classifier failed; escalating to a person: %s", describe(exc))
        return FALLBACK_VERDICT


def _grade_one(classifier: Classifier, kb: KnowledgeBase, text: str) -> GradeResult:
    """Grade one text and, when blue, answer it: one trip to a worker thread for a long message."""
    verdict = _classify_safely(classifier, text)
    return verdict, _answer_safely(kb, text) if verdict.urgency is Urgency.BLUE else None


def _answer_safely(kb: KnowledgeBase, text: str) -> Answer | None:
    try:
        return kb.answer(text)
    except Exception as exc:  # no answer is better than no reply: the policy then offers 12355 and a person
        log.error("knowledge base failed: %s", describe(exc))
        return None


class Gateway:
    """Store → grade → decide → record, for every channel."""

    def __init__(self, writer: Writer, classifier: Classifier, kb: KnowledgeBase, events: CaseEvents) -> None:
        self.writer = writer
        self.classifier = classifier
        self.kb = kb
        self.events = events
        self._inflight: dict[str, Pending] = {}
        # Dedupe keys this process answered recently → message id (WeChat retries within ~15 s).
        self._answered: OrderedDict[str, int] = OrderedDict()
        self.grader = _RoundGrader(classifier, kb)

    def submit(self, inbound: store.Inbound, *, passive: bool) -> Pending:
        """Start processing ``inbound`` (or join the attempt already in flight for its key)."""
        key = inbound.dedupe_key
        if key is not None and key in self._inflight:
            joined = self._inflight[key]
            return Pending(joined.task, joined.stored, duplicate=True)
        stored = asyncio.Event()
        answered = self._answered.get(key) if key is not None else None
        if answered is not None:  # a retry of a message this process answered: read back, do not grade again
            stored.set()
            task = asyncio.create_task(self._stored(answered))
            return Pending(task, stored, duplicate=True)
        task = asyncio.create_task(self._process(inbound, stored, passive=passive))
        pending = Pending(task, stored)
        if key is not None:
            self._inflight[key] = pending
            task.add_done_callback(lambda _t: self._inflight.pop(key, None))
        return pending

    async def _process(self, inbound: store.Inbound, stored: asyncio.Event, *, passive: bool) -> store.Outcome:
        # Grading is pure and takes about a millisecond, so it runs first and the message, its grade and its
        # reply are committed together: nothing is acknowledged before that commit ("stored before answered"),
        # and a crash before it loses nothing that was accepted (WeChat retries; the web page reports an error).
        outcome = await self._answer(inbound, passive=passive)
        stored.set()
        if inbound.dedupe_key is not None:
            self._answered[inbound.dedupe_key] = outcome.message_id
            if len(self._answered) > ANSWERED_MEMORY:
                self._answered.popitem(last=False)
        return outcome

    async def _answer(self, inbound: store.Inbound, *, passive: bool, stored_id: int | None = None) -> store.Outcome:
        """Grade, then store the message (or answer the stored ``stored_id``) with its reply in one writer job."""
        verdict, answer = await self.grade(inbound)
        outcome = await self.writer.run(
            partial(
                store.receive, inbound=inbound, verdict=verdict, answer=answer, passive=passive, stored_id=stored_id
            )
        )
        if not outcome.from_store:  # a retry of a message answered before has nothing new to announce
            self._publish(outcome, verdict)
        return outcome

    async def _stored(self, message_id: int) -> store.Outcome:
        outcome = await self.writer.run(partial(store.stored_outcome, message_id=message_id))
        assert outcome is not None, "only answered messages are remembered"
        return outcome

    async def grade(self, inbound: store.Inbound) -> tuple[Verdict | None, Answer | None]:
        if inbound.incoming.kind is not Kind.TEXT:
            return None, None
        text = inbound.incoming.text
        if len(text) <= LONG_TEXT_CHARS:
            return await self.grader.grade(text)
        return await asyncio.to_thread(_grade_one, self.classifier, self.kb, text)

    def _publish(self, outcome: store.Outcome, verdict: Verdict | None) -> None:
        if outcome.case_id is None:
            return
        urgency = (verdict.urgency if verdict else Urgency.BLUE).value
        category = verdict.category.value if verdict else None
        if outcome.case_opened:
            self.events.publish(CaseEvent("opened", outcome.case_id, urgency, category))
        else:
            self.events.publish(CaseEvent("message", outcome.case_id, urgency, category))
        if outcome.alert:
            self.events.publish(CaseEvent("alert", outcome.case_id, urgency, category))

    async def recover(self) -> int:
        """Answer messages that were stored but never answered (stored without an answer by an older version,
        or by a tool). Their replies can no longer be passive: they go through the outbox."""
        rows = await self.writer.run(store.unhandled_messages)
        for message_id, _conversation_id in rows:
            inbound = await self.writer.run(partial(store.inbound_of, message_id=message_id))
            if inbound is None:
                continue
            await self._answer(inbound, passive=False, stored_id=message_id)
        if rows:
            log.warning("recovered %d stored but unanswered messages", len(rows))
        return len(rows)
