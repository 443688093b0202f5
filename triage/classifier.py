"""``classify(text) -> Verdict``: the safety layer and the learned model, combined.

The combined rule:

1. The model gives per-level probabilities. The model's urgency is the highest
   level whose cumulative probability P(urgency >= level) reaches that level's
   threshold (thresholds tuned on cross-validated training predictions to
   minimise a cost in which under-triage costs three times over-triage).
2. The safety layer gives a floor. The verdict's urgency is the higher of the
   two: the safety layer can raise urgency, never lower it.
3. The category is the model's, unless the safety layer raised the urgency, in
   which case the category is the one the safety rule names.

Long messages are scored whole and in windows of a few sentences; the window
with the highest expected severity decides, so a key sentence buried in a
2,000-character message is not diluted (and the safety layer reads every
clause anyway).
"""

from __future__ import annotations

import threading
from pathlib import Path

from knowledge.text import normalize, pack_sentences
from triage.labels import Category, Urgency, Verdict
from triage.model import ARTIFACT_DIR, FastScorer, TriageModel, load_artifact
from triage.safety import assess

WINDOW_CHARS = 160
LONG_MESSAGE_CHARS = 240
MAX_WINDOWS = 64
MAX_SCORED_CHARS = 20_000  # the model reads this much; the safety layer reads everything
DEFAULT_THRESHOLDS = {"red": 0.5, "orange": 0.5, "yellow": 0.5}


def decide_urgency(proba: dict[str, float], thresholds: dict[str, float]) -> tuple[Urgency, float]:
    """The highest level whose cumulative probability reaches its threshold."""
    at_least = 0.0
    for level in (Urgency.RED, Urgency.ORANGE, Urgency.YELLOW):
        at_least += proba.get(level.value, 0.0)
        if at_least >= thresholds[level.value]:
            return level, at_least
    return Urgency.BLUE, 1.0


def _severity(proba: dict[str, float]) -> float:
    return sum(u.rank * proba.get(u.value, 0.0) for u in Urgency.ordered())


def _windows(text: str) -> list[str]:
    return pack_sentences(text, WINDOW_CHARS, hard_cut=True)[:MAX_WINDOWS]


class Classifier:
    """A loaded model plus the safety layer."""

    def __init__(
        self, scorer: FastScorer, thresholds: dict[str, float] | None = None, model: TriageModel | None = None
    ) -> None:
        self.scorer = scorer
        self.model = model
        self.thresholds = {**DEFAULT_THRESHOLDS, **(thresholds or {})}

    @classmethod
    def load(cls, directory: Path = ARTIFACT_DIR) -> Classifier:
        model, meta = load_artifact(directory)
        return cls(FastScorer(model), meta.get("thresholds"), model)

    def classify_batch(self, texts: list[str]) -> list[Verdict]:
        """Grade many messages: one vectorized model pass, then the same rule as :meth:`classify`."""
        if self.model is None:
            return [self.classify(t) for t in texts]
        texts = [t if isinstance(t, str) else str(t) for t in texts]
        short = [i for i, t in enumerate(texts) if len(t) <= LONG_MESSAGE_CHARS]
        probas: dict[int, tuple[dict[str, float], dict[str, float]]] = {}
        if short:
            urgency, category = self.model.predict_proba([normalize(texts[i]) for i in short])
            u_names = [str(c) for c in self.model.urgency_.classes_]
            c_names = [str(c) for c in self.model.category_.classes_]
            for row, i in enumerate(short):
                probas[i] = (
                    dict(zip(u_names, urgency[row].tolist(), strict=True)),
                    dict(zip(c_names, category[row].tolist(), strict=True)),
                )
        return [self._verdict(t, probas[i] if i in probas else self.model_proba(t)) for i, t in enumerate(texts)]

    def model_proba(self, text: str) -> tuple[dict[str, float], dict[str, float]]:
        """Model probabilities; for long text, those of the most severe window."""
        text = normalize(text[: MAX_SCORED_CHARS * 2])[:MAX_SCORED_CHARS]
        best = self.scorer.proba(text)
        if len(text) > LONG_MESSAGE_CHARS:
            for window in _windows(text):
                candidate = self.scorer.proba(window)
                if _severity(candidate[0]) > _severity(best[0]):
                    best = candidate
        return best

    def classify(self, text: str) -> Verdict:
        """Grade one message. Never raises on odd input: every string gets a verdict."""
        if not isinstance(text, str):
            text = str(text)
        return self._verdict(text, self.model_proba(text))

    def _verdict(self, text: str, probabilities: tuple[dict[str, float], dict[str, float]]) -> Verdict:
        urgency_p, category_p = probabilities
        model_urgency, confidence = decide_urgency(urgency_p, self.thresholds)
        category = Category(max(category_p, key=category_p.__getitem__))
        safety = assess(text)
        urgency = model_urgency
        signals = list(safety.signals)
        if safety.floor.rank > model_urgency.rank:
            urgency, confidence = safety.floor, 1.0
            if safety.category is not None:
                category = safety.category
            signals.insert(0, f"安全规则: {model_urgency.label_zh}→{urgency.label_zh}")
        if not normalize(text):
            signals.append("空消息")
        scores = {f"urgency:{k}": round(v, 4) for k, v in urgency_p.items()}
        scores.update({f"category:{k}": round(v, 4) for k, v in category_p.items()})
        return Verdict(urgency, category, float(confidence), scores, tuple(signals))


_default: Classifier | None = None
_lock = threading.Lock()


def default_classifier() -> Classifier:
    global _default
    with _lock:
        if _default is None:
            _default = Classifier.load()
        return _default


def classify(text: str) -> Verdict:
    """Grade ``text`` for urgency and category (see the module docstring for the rule)."""
    return default_classifier().classify(text)
