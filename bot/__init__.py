"""Humiao gateway: aiohttp application, CLI and settings (the I/O edge)."""
