"""Typed application keys shared by the app factory and the handlers."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import Engine

from bot.db.writer import Writer
from bot.events import CaseEvents
from bot.gateway import Gateway
from bot.handlers.wechat_config import WeChatConfig
from bot.outbox import Dispatcher
from bot.ratelimit import RateLimiter
from bot.settings import Settings
from knowledge import KnowledgeBase
from triage import Classifier

SETTINGS = web.AppKey("settings", Settings)
ENGINE = web.AppKey("engine", Engine)
WRITER = web.AppKey("writer", Writer)
KNOWLEDGE = web.AppKey("knowledge", KnowledgeBase)
CLASSIFIER = web.AppKey("classifier", Classifier)
EVENTS = web.AppKey("events", CaseEvents)
GATEWAY = web.AppKey("gateway", Gateway)
DISPATCHER = web.AppKey("dispatcher", Dispatcher)
WECHAT = web.AppKey("wechat", WeChatConfig)
CHAT_LIMITER = web.AppKey("chat_limiter", RateLimiter)
