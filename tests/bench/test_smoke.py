"""The benchmarks still run: each in its quick form, as a separate process (as `make bench` runs them)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=180, check=False
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return done.stdout


def test_gateway_benchmark_quick_run_loses_nothing() -> None:
    out = run("bench.gateway", "--quick")
    assert "errors: none" in out and "-> match" in out
    assert "humiao full pipeline" in out and "bare aiohttp + wechatpy echo" in out


def test_knowledge_base_benchmark_runs() -> None:
    out = run("bench.kb", "--repeat", "1")
    assert "humiao answer()" in out and "baseline rank_bm25" in out
