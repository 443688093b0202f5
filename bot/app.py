"""The aiohttp application factory: settings in, application out.

Long-lived resources live in ``cleanup_ctx`` (started in order, stopped in
reverse) and are reached through typed ``web.AppKey``s: the database engine
and its group-commit writer, the knowledge base, the classifier, and the
gateway with its outbox dispatcher. Each handler module owns one router; they
are composed here, once.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web

import knowledge
from bot import db
from bot.db.writer import Writer
from bot.events import CaseEvents
from bot.gateway import Gateway
from bot.handlers import chat, health, wechat
from bot.handlers.wechat_config import WeChatConfig
from bot.keys import CHAT_LIMITER, CLASSIFIER, DISPATCHER, ENGINE, EVENTS, GATEWAY, KNOWLEDGE, SETTINGS, WECHAT, WRITER
from bot.outbox import Dispatcher, wechat_sender
from bot.ratelimit import RateLimiter
from bot.settings import Settings
from triage import Classifier

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024
# Objects a young collection waits for (CPython's default: 700). Each young collection walks every object still
# alive from the requests in flight, so collecting less often costs less in all: see ``frozen_heap_ctx``.
GC_YOUNG_THRESHOLD = 10_000


async def database_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    engine = db.create_engine(settings.database_url, writer=True)
    await asyncio.to_thread(db.upgrade, engine)
    writer = Writer(engine)
    writer.start()
    app[ENGINE] = engine
    app[WRITER] = writer
    log.info("database ready (%s)", engine.dialect.name)
    yield
    await asyncio.to_thread(writer.stop)
    engine.dispose()


async def knowledge_ctx(app: web.Application) -> AsyncIterator[None]:
    if KNOWLEDGE in app:  # given to create_app (tests, benchmarks)
        yield
        return
    # Loading the index (and jieba's dictionary) takes about a second: do it at
    # start-up, off the event loop, so the first question does not pay for it.
    kb = await asyncio.to_thread(knowledge.configure, app[SETTINGS].kb_cache_dir)
    app[KNOWLEDGE] = kb
    log.info("knowledge base ready (%d passages)", len(kb.index.passages))
    yield


async def classifier_ctx(app: web.Application) -> AsyncIterator[None]:
    if CLASSIFIER in app:  # given to create_app (tests, benchmarks)
        yield
        return
    model_dir = app[SETTINGS].model_dir

    def load() -> Classifier:
        classifier = Classifier.load(model_dir) if model_dir else Classifier.load()
        classifier.classify("你好")  # warm up jieba and the vectorizers before the first message
        return classifier

    app[CLASSIFIER] = await asyncio.to_thread(load)
    log.info("classifier ready")
    yield


async def gateway_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    events = CaseEvents()
    gateway = Gateway(app[WRITER], app[CLASSIFIER], app[KNOWLEDGE], events)
    sender = (
        wechat_sender(settings.wechat_appid, settings.wechat_secret, settings.wechat_api_base)
        if settings.wechat_appid and settings.wechat_secret
        else None
    )
    dispatcher = Dispatcher(app[WRITER], sender, interval=settings.outbox_interval)
    app[EVENTS], app[GATEWAY], app[DISPATCHER] = events, gateway, dispatcher
    # Messages stored but never answered (the last process stopped in between).
    await gateway.recover()
    dispatcher.start()
    yield
    await dispatcher.stop()


async def frozen_heap_ctx(_app: web.Application) -> AsyncIterator[None]:
    """Move everything loaded at start-up out of the cyclic garbage collector's way.

    The model's vocabularies, the search index and the libraries are ~130k objects that live as long as the
    process, and every full collection walked them all: pauses of up to 125 ms under load (bench/gateway,
    measured with ``gc.callbacks``), felt by every request in flight. ``gc.freeze`` keeps them out of every
    later collection; a collection first, so that no start-up garbage is frozen with them.
    """
    gc.collect()
    gc.freeze()
    thresholds = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, *thresholds[1:])
    yield
    gc.set_threshold(*thresholds)
    gc.unfreeze()


@web.middleware
async def security_headers(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    response = await handler(request)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    return response


def create_app(
    settings: Settings,
    *,
    classifier: Classifier | None = None,
    knowledge_base: knowledge.KnowledgeBase | None = None,
    freeze_heap: bool = False,
) -> web.Application:
    """Build the gateway application for ``settings``.

    ``classifier`` and ``knowledge_base`` may be passed in already loaded (tests
    and benchmarks share one across many apps); otherwise they load at start-up.
    ``freeze_heap`` is for a process that serves this one app (``humiao serve``):
    see :func:`frozen_heap_ctx`. It changes the interpreter's garbage collection,
    so an app built among others (tests) goes without it.
    """
    app = web.Application(client_max_size=MAX_BODY_BYTES, middlewares=[security_headers])
    app[SETTINGS] = settings
    if classifier is not None:
        app[CLASSIFIER] = classifier
    if knowledge_base is not None:
        app[KNOWLEDGE] = knowledge_base
    app[WECHAT] = WeChatConfig.build(settings.wechat_token, settings.wechat_aes_key, settings.wechat_appid)
    app[CHAT_LIMITER] = RateLimiter(chat.RATE_BURST, chat.RATE_PER_S)
    app.cleanup_ctx.extend([database_ctx, knowledge_ctx, classifier_ctx, gateway_ctx])
    if freeze_heap:
        app.cleanup_ctx.append(frozen_heap_ctx)  # last: after everything long-lived has loaded
    for module in (health, wechat, chat):
        app.add_routes(module.routes)
    return app
