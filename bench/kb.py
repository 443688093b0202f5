"""Knowledge base benchmark: index build time and per-question latency.

Humiao's path (bm25s + coverage + extraction, the whole ``answer()``) beside a
baseline in the same run: rank_bm25 over the same passages and tokens
(retrieval only). Run: ``python -m bench.kb [--repeat N]`` (pin to one core with
``taskset -c 0`` for the one-core figure).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from rank_bm25 import BM25Okapi

from bench.common import interleaved_latencies, percentile, table
from knowledge.answer import KnowledgeBase
from knowledge.index import KnowledgeIndex, tokenize
from knowledge.ingest import load_documents

QUESTIONS = Path(__file__).resolve().parents[1] / "tests" / "knowledge" / "questions.jsonl"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=20, help="passes over the question set")
    args = parser.parse_args()
    questions = [json.loads(line)["question"] for line in QUESTIONS.read_text(encoding="utf-8").splitlines()]

    t0 = time.perf_counter()
    _, passages = load_documents()
    t_ingest = time.perf_counter() - t0
    tokenize("预热")  # jieba dictionary load, paid by both
    t0 = time.perf_counter()
    index = KnowledgeIndex(passages)  # tokenizes every passage, then bm25s
    t_ours = time.perf_counter() - t0
    t0 = time.perf_counter()
    baseline = BM25Okapi([KnowledgeIndex._passage_tokens(p) for p in passages])  # same tokens
    t_base = time.perf_counter() - t0
    kb = KnowledgeBase(index)

    def baseline_top5(question: str) -> object:
        scores = baseline.get_scores(list(dict.fromkeys(tokenize(question))))
        return np.argsort(-scores)[:5]

    ours, base = interleaved_latencies(questions, kb.answer, baseline_top5, args.repeat)

    ms = 1000.0
    print(f"{len(passages)} passages from the seeds and laws (ingestion and cleaning {t_ingest:.2f} s)")
    print(f"{len(questions)} questions x {args.repeat} passes\n")
    print(
        table(
            ["engine", "build (s)", "p50 (ms)", "p99 (ms)", "mean (ms)"],
            [
                [
                    "humiao answer() (bm25s + coverage + extract)",
                    f"{t_ours:.2f}",
                    f"{percentile(ours, 50) * ms:.2f}",
                    f"{percentile(ours, 99) * ms:.2f}",
                    f"{np.mean(ours) * ms:.2f}",
                ],
                [
                    "baseline rank_bm25 (retrieval only)",
                    f"{t_base:.2f}",
                    f"{percentile(base, 50) * ms:.2f}",
                    f"{percentile(base, 99) * ms:.2f}",
                    f"{np.mean(base) * ms:.2f}",
                ],
            ],
        )
    )


if __name__ == "__main__":
    main()
