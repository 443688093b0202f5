"""Settings, read once from ``HUMIAO_*`` environment variables into a frozen object.

Nothing below the edge calls ``os.getenv``: the CLI builds a :class:`Settings`
and passes it down.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path


class SettingsError(ValueError):
    """A setting has a value we cannot use; the message names the variable."""


def _normalize_database_url(url: str) -> str:
    """Map plain driver-less URLs to the drivers the gateway uses (psycopg 3, sqlite3).

    The database is driven from one writer thread and a small reader pool
    (``bot.db.writer``), so the drivers are the synchronous ones.
    """
    if url.startswith("postgres://"):
        url = "postgresql://" + url.removeprefix("postgres://")
    for old in ("postgresql://", "postgresql+asyncpg://", "postgresql+psycopg2://"):
        if url.startswith(old):
            return "postgresql+psycopg://" + url.removeprefix(old)
    if url.startswith("sqlite+aiosqlite:///"):
        return "sqlite:///" + url.removeprefix("sqlite+aiosqlite:///")
    return url


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything configurable about a Humiao process."""

    data_dir: Path = Path("var")
    database_url: str = ""
    host: str = "127.0.0.1"
    port: int = 8080
    log_level: str = "INFO"
    wechat_token: str = "humiao-dev-token"
    wechat_aes_key: str = ""
    wechat_appid: str = ""
    wechat_secret: str = ""
    wechat_api_base: str = "https://api.weixin.qq.com"
    model_dir: Path | None = None
    demo: bool = False  # the chat page shows each reply's grade (for demonstrations only)
    outbox_interval: float = 1.0  # seconds between outbox rounds when idle

    def __post_init__(self) -> None:
        if not self.database_url:
            object.__setattr__(self, "database_url", f"sqlite:///{self.data_dir / 'humiao.sqlite3'}")
        object.__setattr__(self, "database_url", _normalize_database_url(self.database_url))

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def kb_cache_dir(self) -> Path:
        return self.data_dir / "kb"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read ``HUMIAO_*`` variables; unset ones take the defaults above."""
        env = os.environ if environ is None else environ

        def get(name: str, default: str = "") -> str:
            return env.get(f"HUMIAO_{name}", default).strip()

        port_text = get("PORT", "8080")
        try:
            port = int(port_text)
        except ValueError:
            raise SettingsError(f"HUMIAO_PORT must be an integer, got {port_text!r}") from None
        if not 0 < port < 65536:
            raise SettingsError(f"HUMIAO_PORT must be 1..65535, got {port}")
        aes_key = get("WECHAT_AES_KEY")
        if aes_key and len(aes_key) != 43:
            raise SettingsError("HUMIAO_WECHAT_AES_KEY (EncodingAESKey) must be 43 characters")
        model_dir = get("MODEL_DIR")
        return cls(
            data_dir=Path(get("DATA_DIR", "var")),
            database_url=get("DATABASE_URL"),
            host=get("HOST", "127.0.0.1"),
            port=port,
            log_level=get("LOG_LEVEL", "INFO").upper(),
            wechat_token=get("WECHAT_TOKEN", "humiao-dev-token"),
            wechat_aes_key=aes_key,
            wechat_appid=get("WECHAT_APPID"),
            wechat_secret=get("WECHAT_SECRET"),
            wechat_api_base=get("WECHAT_API_BASE", "https://api.weixin.qq.com").rstrip("/"),
            model_dir=Path(model_dir) if model_dir else None,
            demo=get("DEMO", "0").lower() in ("1", "true", "yes", "on"),
        )
