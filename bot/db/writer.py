"""The group-commit writer: one thread, one connection, many requests per transaction.

Every request that writes hands the writer a *job* — a plain function of a
SQLAlchemy ``Session`` — and awaits its result. The writer thread takes every
job waiting in its queue (up to ``max_batch``), runs them in one transaction,
commits them all at once and wakes the waiters. If a job raises, the batch is
rolled back and its jobs run again one transaction each, so a failing job
fails alone and gets its exception (jobs are functions of the database state,
so running one again is safe). A request is answered only
after the commit that holds its rows, so "stored before answered" holds, and
under load the cost of a commit is shared by the whole batch (perf-notes: per-
row commits manage ~500 rows/s on this disk, group commit 15k+).

The thread never touches the event loop except through
``call_soon_threadsafe``, once per batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from bot.logsafe import describe

log = logging.getLogger(__name__)

T = TypeVar("T")
Job = Callable[[Session], T]


class WriterStopped(RuntimeError):
    """The writer is not running (not started yet, or shut down)."""


@dataclass(slots=True)
class _Item:
    job: Job[Any]
    loop: asyncio.AbstractEventLoop | None
    future: asyncio.Future[Any] | None
    result: Any = None
    error: BaseException | None = None


@dataclass(slots=True)
class WriterStats:
    batches: int = 0
    jobs: int = 0
    max_batch_seen: int = 0
    failed_commits: int = 0
    batch_sizes: list[int] = field(default_factory=list)


_STOP = object()


class Writer:
    """Runs write jobs in batches on one thread; see the module docstring."""

    def __init__(self, engine: Engine, *, max_batch: int = 256, name: str = "humiao-writer") -> None:
        self.engine = engine
        self.max_batch = max_batch
        self.name = name
        self.stats = WriterStats()
        self._queue: queue.SimpleQueue[_Item | object] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._stopping = False

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        if self._thread is not None:
            return
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Finish the jobs already queued, then stop the thread (blocking)."""
        if self._thread is None:
            return
        self._stopping = True
        self._queue.put(_STOP)
        self._thread.join(timeout)
        self._thread = None

    @property
    def running(self) -> bool:
        return self._thread is not None and not self._stopping

    # ------------------------------------------------------------------ API
    async def run(self, job: Job[T]) -> T:
        """Run ``job`` in the next batch; return its result once the batch is committed."""
        if not self.running:
            raise WriterStopped("the database writer is not running")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._queue.put(_Item(job, loop, future))
        return await future

    def submit(self, job: Job[Any]) -> None:
        """Fire and forget: run ``job`` in the next batch; failures are logged."""
        if not self.running:
            raise WriterStopped("the database writer is not running")
        self._queue.put(_Item(job, None, None))

    def run_blocking(self, job: Job[T], timeout: float = 30.0) -> T:
        """Run ``job`` from a non-event-loop thread and wait for its commit."""
        done = threading.Event()
        box: dict[str, Any] = {}

        self._queue.put(_BlockingItem(_Item(job, None, None), done, box))
        if not done.wait(timeout):
            raise TimeoutError("database writer did not answer in time")
        if "error" in box:
            raise box["error"]
        return box["result"]

    # ------------------------------------------------------------------ thread
    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is _STOP:
                return
            batch: list[Any] = [first]
            stop_after = False
            while len(batch) < self.max_batch:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is _STOP:
                    stop_after = True
                    break
                batch.append(nxt)
            self._run_batch(batch)
            if stop_after:
                return

    def _run_batch(self, batch: list[Any]) -> None:
        items: list[_Item] = [b.item if isinstance(b, _BlockingItem) else b for b in batch]
        started = time.perf_counter()
        # Optimistic: every job in one transaction, no SAVEPOINTs (they cost two statements per job). If a job
        # raises, the transaction is rolled back and each job runs again alone, so a failing job fails alone.
        if len(items) == 1:
            self._run_alone(items[0])
        elif not self._run_together(items):
            for item in items:
                self._run_alone(item)
        self.stats.batches += 1
        self.stats.jobs += len(items)
        self.stats.max_batch_seen = max(self.stats.max_batch_seen, len(items))
        if len(self.stats.batch_sizes) < 100_000:
            self.stats.batch_sizes.append(len(items))
        log.debug("writer committed %d jobs in %.1f ms", len(items), (time.perf_counter() - started) * 1000)
        self._deliver(batch, items)

    def _run_together(self, items: list[_Item]) -> bool:
        """Run all jobs and commit once; False (nothing stored) if any job or the commit failed."""
        results: list[Any] = []
        try:
            with Session(self.engine, expire_on_commit=False) as session, session.begin():
                for item in items:
                    results.append(item.job(session))
        except Exception:
            return False
        for item, result in zip(items, results, strict=True):
            item.result, item.error = result, None
        return True

    def _run_alone(self, item: _Item) -> None:
        try:
            with Session(self.engine, expire_on_commit=False) as session, session.begin():
                item.result = item.job(session)
            item.error = None
        except Exception as exc:
            item.result, item.error = None, exc
            self.stats.failed_commits += 1

    @staticmethod
    def _deliver(batch: list[Any], items: list[_Item]) -> None:
        by_loop: dict[asyncio.AbstractEventLoop, list[_Item]] = {}
        for entry, item in zip(batch, items, strict=True):
            if isinstance(entry, _BlockingItem):
                if item.error is not None:
                    entry.box["error"] = item.error
                else:
                    entry.box["result"] = item.result
                entry.done.set()
            elif item.future is not None and item.loop is not None:
                by_loop.setdefault(item.loop, []).append(item)
            elif item.error is not None:
                log.error("background write failed: %s", describe(item.error))
        for loop, waiting in by_loop.items():
            with contextlib.suppress(RuntimeError):  # a closed loop: nobody is waiting any more
                loop.call_soon_threadsafe(_resolve, waiting)


@dataclass(slots=True)
class _BlockingItem:
    item: _Item
    done: threading.Event
    box: dict[str, Any]


def _resolve(items: list[_Item]) -> None:
    for item in items:
        future = item.future
        if future is None or future.done():
            continue  # the waiter gave up (timeout or cancel); the rows are committed regardless
        if item.error is not None:
            future.set_exception(item.error)
        else:
            future.set_result(item.result)
