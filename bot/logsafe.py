"""Logging failures without what they were about.

An exception's message can carry a child's words or ids: a library quoting
its input, a driver's DETAIL line naming a key. Logs keep the exception's type
and where it was raised (file, line and function of each frame, innermost
last), which is what an engineer needs to find the bug, and never the message.
"""

from __future__ import annotations

import traceback
from pathlib import Path

MAX_FRAMES = 8


def describe(exc: BaseException) -> str:
    """``module.Type at file.py:12 function -> …``, for this exception and the ones it was raised from."""
    parts = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        frames = traceback.extract_tb(current.__traceback__)[-MAX_FRAMES:]
        where = " -> ".join(f"{Path(f.filename).name}:{f.lineno} {f.name}" for f in frames)
        kind = type(current)
        parts.append(f"{kind.__module__}.{kind.__qualname__}" + (f" at {where}" if where else ""))
        current = current.__cause__ or current.__context__
    return "; raised while handling ".join(parts)
