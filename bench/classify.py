"""Classifier benchmark: load time, single-message latency, batch throughput.

Humiao's ``Classifier.classify`` (safety layer + hand-applied model) beside a
baseline in the same run: a plain scikit-learn TF-IDF (char 1-3) + logistic
regression pipeline for urgency, without the safety layer, called the usual
way (``Pipeline.predict``). Messages are the held-out split.
Run: ``python -m bench.classify`` (``taskset -c 0`` for the one-core figure).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from bench.common import interleaved_latencies, percentile, table
from triage.classifier import Classifier
from triage.models.train import HELDOUT_DIR, TRAIN_DIR, data_files, read_examples
from triage.scorer import ARTIFACT_DIR


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--batch-rounds", type=int, default=5, help="alternating batch passes of each")
    args = parser.parse_args()
    messages = [e.text for e in read_examples(data_files(HELDOUT_DIR))]
    train = read_examples(data_files(TRAIN_DIR))

    t0 = time.perf_counter()
    classifier = Classifier.load()
    classifier.classify("预热")
    load_s = time.perf_counter() - t0
    cold = "import time; t = time.perf_counter(); import triage; triage.classify('预热'); print(time.perf_counter()-t)"
    cold_s = float(subprocess.run([sys.executable, "-c", cold], capture_output=True, text=True, check=True).stdout)
    artifact_mb = sum(p.stat().st_size for p in ARTIFACT_DIR.iterdir()) / 2**20
    baseline = make_pipeline(
        TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True, min_df=2),
        LogisticRegression(max_iter=2000),
    ).fit([e.text for e in train], [e.urgency for e in train])

    ours, base = interleaved_latencies(messages, classifier.classify, lambda t: baseline.predict([t]), args.repeat)
    # Batch throughput: a single pass is at the mercy of the machine's noise (runs of one pass varied by
    # 1.5k-2.5k msg/s), so the two alternate pass by pass and each reports its median and range.
    ours_rates: list[float] = []
    base_rates: list[float] = []
    for _ in range(args.batch_rounds):
        t0 = time.perf_counter()
        classifier.classify_batch(messages)
        ours_rates.append(len(messages) / (time.perf_counter() - t0))
        t0 = time.perf_counter()
        baseline.predict(messages)
        base_rates.append(len(messages) / (time.perf_counter() - t0))

    ms = 1000.0
    print(
        f"{len(messages)} held-out messages x {args.repeat}; model load + first message {load_s:.2f} s "
        f"(cold process, imports included: {cold_s:.2f} s); artifact {artifact_mb:.1f} MB\n"
    )
    print(
        table(
            ["classifier", "p50 (ms)", "p99 (ms)", f"batch (msg/s, median [range] of {args.batch_rounds})"],
            [
                [
                    "humiao (safety layer + hand-applied model)",
                    f"{percentile(ours, 50) * ms:.2f}",
                    f"{percentile(ours, 99) * ms:.2f}",
                    _rates(ours_rates),
                ],
                [
                    "baseline TF-IDF + LR Pipeline.predict",
                    f"{percentile(base, 50) * ms:.2f}",
                    f"{percentile(base, 99) * ms:.2f}",
                    _rates(base_rates),
                ],
            ],
        )
    )


def _rates(rates: list[float]) -> str:
    return f"{statistics.median(rates):,.0f} [{min(rates):,.0f}-{max(rates):,.0f}]"


if __name__ == "__main__":
    main()
