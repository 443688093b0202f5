from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

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
