"""In-process case events: what the operator console's live view and alerts listen to.

Publishing never blocks the gateway: each subscriber has a bounded queue and a
slow subscriber loses its oldest events (it re-reads the queue from the
database anyway). Events carry ids and grades, never message text.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CaseEvent:
    kind: str  # "opened", "raised", "message", "alert"
    case_id: int
    urgency: str
    category: str | None = None


class CaseEvents:
    """A tiny publish/subscribe hub on the event loop."""

    def __init__(self, maxsize: int = 1000) -> None:
        self._subscribers: set[asyncio.Queue[CaseEvent]] = set()
        self._maxsize = maxsize
        self.published = 0

    def publish(self, event: CaseEvent) -> None:
        self.published += 1
        if event.kind == "alert":
            # An operator-facing alarm, not message content: safe at WARNING.
            log.warning("red alert: case %d (%s)", event.case_id, event.category)
        for subscriber in self._subscribers:
            if subscriber.full():
                subscriber.get_nowait()
            subscriber.put_nowait(event)

    @asynccontextmanager
    async def subscribe(self) -> AsyncIterator[asyncio.Queue[CaseEvent]]:
        subscriber: asyncio.Queue[CaseEvent] = asyncio.Queue(self._maxsize)
        self._subscribers.add(subscriber)
        try:
            yield subscriber
        finally:
            self._subscribers.discard(subscriber)
