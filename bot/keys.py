"""Typed application keys shared by the app factory and the handlers."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.settings import Settings
from knowledge import KnowledgeBase

SETTINGS = web.AppKey("settings", Settings)
ENGINE = web.AppKey("engine", AsyncEngine)
KNOWLEDGE = web.AppKey("knowledge", KnowledgeBase)
