"""``GET /healthz``: is the process able to serve (database reachable, knowledge loaded)?"""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import text

from bot import db
from bot.keys import ENGINE, KNOWLEDGE, WRITER

routes = web.RouteTableDef()


@routes.get("/healthz")
async def healthz(request: web.Request) -> web.Response:
    checks: dict[str, object] = {}
    status = 200
    try:
        await db.read(request.app[ENGINE], lambda session: session.execute(text("SELECT 1")).scalar())
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"error: {type(exc).__name__}"
        status = 503
    checks["knowledge_passages"] = len(request.app[KNOWLEDGE].index.passages)
    writer = request.app[WRITER]
    if not writer.running:
        checks["writer"] = "stopped"
        status = 503
    checks["writer_batches"] = writer.stats.batches
    return web.json_response({"status": "ok" if status == 200 else "degraded", **checks}, status=status)
