from __future__ import annotations

from pathlib import Path

import pytest

from bot.settings import Settings, SettingsError


def test_defaults_use_sqlite_under_the_data_dir() -> None:
    settings = Settings.from_env({"HUMIAO_DATA_DIR": "/tmp/h"})
    assert settings.database_url == "sqlite:////tmp/h/humiao.sqlite3"
    assert settings.data_dir == Path("/tmp/h") and settings.is_sqlite


def test_postgres_urls_get_the_async_driver() -> None:
    settings = Settings.from_env({"HUMIAO_DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/test"})
    assert settings.database_url == "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    assert not settings.is_sqlite


def test_settings_are_frozen() -> None:
    settings = Settings.from_env({})
    with pytest.raises(AttributeError):
        settings.port = 1  # type: ignore[misc]


@pytest.mark.parametrize("env", [{"HUMIAO_PORT": "x"}, {"HUMIAO_PORT": "70000"}, {"HUMIAO_WECHAT_AES_KEY": "short"}])
def test_bad_values_raise_a_named_error(env: dict[str, str]) -> None:
    with pytest.raises(SettingsError) as info:
        Settings.from_env(env)
    assert next(iter(env)) in str(info.value)
