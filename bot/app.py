"""The aiohttp application factory: settings in, application out.

Long-lived resources (database engine, knowledge base) live in ``cleanup_ctx``
and are reached through typed ``web.AppKey``s. Each handler module owns one
router; they are composed here, once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

from aiohttp import web

import knowledge
from bot import db
from bot.handlers import health
from bot.keys import ENGINE, KNOWLEDGE, SETTINGS
from bot.settings import Settings

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024


async def database_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    engine = db.create_engine(settings.database_url)
    await db.upgrade(engine)
    app[ENGINE] = engine
    log.info("database ready (%s)", engine.dialect.name)
    yield
    await engine.dispose()


async def knowledge_ctx(app: web.Application) -> AsyncIterator[None]:
    # Loading the index (and jieba's dictionary) takes about a second: do it at
    # start-up, off the event loop, so the first question does not pay for it.
    kb = await asyncio.to_thread(knowledge.configure, app[SETTINGS].kb_cache_dir)
    app[KNOWLEDGE] = kb
    log.info("knowledge base ready (%d passages)", len(kb.index.passages))
    yield


def create_app(settings: Settings) -> web.Application:
    """Build the gateway application for ``settings``."""
    app = web.Application(client_max_size=MAX_BODY_BYTES)
    app[SETTINGS] = settings
    app.cleanup_ctx.append(database_ctx)
    app.cleanup_ctx.append(knowledge_ctx)
    app.add_routes(health.routes)
    return app
