"""Small helpers shared by the benchmarks."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence


def percentile(samples: Sequence[float], q: float) -> float:
    ordered = sorted(samples)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    cells = [[str(h) for h in headers], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = [" | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in cells]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)


def median(samples: Sequence[float]) -> float:
    return statistics.median(samples)


def interleaved_latencies(
    items: Sequence[str], ours: Callable[[str], object], baseline: Callable[[str], object], repeat: int
) -> tuple[list[float], list[float]]:
    """Per-item seconds for both, alternating call by call so machine noise hits both alike."""
    ours_s: list[float] = []
    base_s: list[float] = []
    for _ in range(repeat):
        for item in items:
            t0 = time.perf_counter()
            ours(item)
            ours_s.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            baseline(item)
            base_s.append(time.perf_counter() - t0)
    return ours_s, base_s
