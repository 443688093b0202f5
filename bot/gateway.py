"""The message pipeline shared by every channel: store, grade, decide, record.

1. ``ingest``: the inbound message is committed (deduplicated by its key)
   before anything else happens — "stored before answered".
2. The classifier grades text (on the event loop for short messages, which
   take well under a millisecond; in a worker thread for long ones) and, for
   blue messages, the knowledge base answers.
3. ``apply``: the conversation policy runs on the current case state inside
   the writer, and the reply, the case change and the outbox rows are
   committed together.

Channels call :meth:`Gateway.submit` and wait for the returned
:class:`Pending` as long as their transport allows. A WeChat retry of a
message still in flight joins the first attempt instead of starting another.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from functools import partial

from bot import store
from bot.conversation import Kind
from bot.db.writer import Writer
from bot.events import CaseEvent, CaseEvents
from knowledge import Answer, KnowledgeBase
from triage import Classifier
from triage.labels import Category, Urgency, Verdict

log = logging.getLogger(__name__)

LONG_TEXT_CHARS = 240  # longer messages are graded in a worker thread
FALLBACK_VERDICT = Verdict(Urgency.ORANGE, Category.OTHER, 0.0, {}, ("分类失败: 转人工复核",))


@dataclass(slots=True)
class Pending:
    """One message going through the pipeline."""

    task: asyncio.Task[store.Outcome]
    stored: asyncio.Event = field(default_factory=asyncio.Event)
    duplicate: bool = False


class Gateway:
    """Store → grade → decide → record, for every channel."""

    def __init__(self, writer: Writer, classifier: Classifier, kb: KnowledgeBase, events: CaseEvents) -> None:
        self.writer = writer
        self.classifier = classifier
        self.kb = kb
        self.events = events
        self._inflight: dict[str, Pending] = {}

    def submit(self, inbound: store.Inbound, *, passive: bool) -> Pending:
        """Start processing ``inbound`` (or join the attempt already in flight for its key)."""
        key = inbound.dedupe_key
        if key is not None and key in self._inflight:
            joined = self._inflight[key]
            return Pending(joined.task, joined.stored, duplicate=True)
        stored = asyncio.Event()
        task = asyncio.create_task(self._process(inbound, stored, passive=passive))
        pending = Pending(task, stored)
        if key is not None:
            self._inflight[key] = pending
            task.add_done_callback(lambda _t: self._inflight.pop(key, None))
        return pending

    async def _process(self, inbound: store.Inbound, stored: asyncio.Event, *, passive: bool) -> store.Outcome:
        ingested = await self.writer.run(partial(store.ingest, inbound=inbound))
        stored.set()
        if ingested.outcome is not None:  # a retry of a message answered before
            return ingested.outcome
        # New, or stored by an earlier attempt (maybe another process) that has not answered yet:
        # finish it here; ``apply`` sees a concurrent answer and returns that instead.
        return await self.answer(inbound, ingested, passive=passive)

    async def answer(self, inbound: store.Inbound, ingested: store.Ingested, *, passive: bool) -> store.Outcome:
        """Grade, decide and record an already stored message."""
        verdict, answer = await self.grade(inbound)
        outcome = await self.writer.run(
            partial(store.apply, inbound=inbound, ingested=ingested, verdict=verdict, answer=answer, passive=passive)
        )
        self._publish(outcome, verdict)
        return outcome

    async def grade(self, inbound: store.Inbound) -> tuple[Verdict | None, Answer | None]:
        if inbound.incoming.kind is not Kind.TEXT:
            return None, None
        text = inbound.incoming.text
        try:
            if len(text) > LONG_TEXT_CHARS:
                verdict = await asyncio.to_thread(self.classifier.classify, text)
            else:
                verdict = self.classifier.classify(text)
        except Exception:  # never lose a message to a classifier bug: send it to a person
            log.exception("classifier failed; escalating to a person")
            verdict = FALLBACK_VERDICT
        answer = self.kb.answer(text) if verdict.urgency is Urgency.BLUE else None
        return verdict, answer

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
        """Answer messages that were stored but never answered (the process stopped in between).

        Their replies can no longer be passive: they go through the outbox.
        """
        rows = await self.writer.run(store.unhandled_messages)
        for message_id, _conversation_id in rows:
            inbound = await self.writer.run(partial(store.inbound_of, message_id=message_id))
            if inbound is None:
                continue
            ingested = store.Ingested(message_id, _conversation_id, duplicate=True, handled=False)
            await self.answer(inbound, ingested, passive=False)
        if rows:
            log.warning("recovered %d stored but unanswered messages", len(rows))
        return len(rows)
