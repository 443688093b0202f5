"""WeChat account configuration, built once from settings by the app factory."""

from __future__ import annotations

from dataclasses import dataclass

from wechatpy.crypto import WeChatCrypto


@dataclass(frozen=True, slots=True)
class WeChatConfig:
    token: str
    crypto: WeChatCrypto | None  # None: safe mode not configured (plaintext only)

    @classmethod
    def build(cls, token: str, aes_key: str, appid: str) -> WeChatConfig:
        return cls(token, WeChatCrypto(token, aes_key, appid) if aes_key else None)
