from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

import knowledge
from bot.settings import Settings


@pytest.fixture(scope="session")
def kb(tmp_path_factory: pytest.TempPathFactory) -> knowledge.KnowledgeBase:
    return knowledge.configure(tmp_path_factory.mktemp("kb"))


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    url = os.environ.get("HUMIAO_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("HUMIAO_TEST_POSTGRES_URL is not set (.ci/run sets it to the PostgreSQL on 127.0.0.1)")
    yield url


@pytest.fixture
def pg_database(postgres_url: str) -> Iterator[str]:
    """A throw-away PostgreSQL database; yields its SQLAlchemy URL."""
    name = f"humiao_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield Settings(database_url=postgres_url.rsplit("/", 1)[0] + f"/{name}").database_url
    finally:
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
