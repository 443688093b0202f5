from __future__ import annotations

from aiohttp.test_utils import TestClient

from bot.app import create_app
from bot.settings import Settings

from .conftest import MakeClient


async def test_healthz_reports_database_and_knowledge(aiohttp_client, settings: Settings) -> None:  # type: ignore[no-untyped-def]
    client: TestClient = await aiohttp_client(create_app(settings))
    response = await client.get("/healthz")
    assert response.status == 200
    body = await response.json()
    assert body["status"] == "ok" and body["database"] == "ok"
    assert body["knowledge_passages"] > 500


async def test_oversized_body_is_refused(make_client: MakeClient) -> None:
    client = await make_client()
    response = await client.post("/healthz", data=b"x" * (65 * 1024))
    assert response.status in (405, 413)
