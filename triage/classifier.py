"""``classify(text) -> Verdict``: the safety layer and the learned model, combined.

The combined rule:

1. The model gives per-level probabilities. The model's urgency is the highest
   level whose cumulative probability P(urgency >= level) reaches that level's
   threshold, and a message whose P(red) alone reaches ``red_guard`` is at
   least orange. The thresholds are tuned on cross-validated training
   predictions (never on held-out) to minimise the cost matrix in
   ``triage.models.train.COST``: under-triage costs more than over-triage, and
   a red message graded blue or yellow costs far more than anything else;
   among thresholds that grade no red training message blue or yellow out of
   fold and keep margins on out-of-fold red recall (≥ 0.99) and red
   precision (≥ 0.84), when the grid has any
   (``triage.models.train.tune_thresholds``).
2. The safety layer gives a floor. The verdict's urgency is the higher of the
   two: the safety layer can raise urgency, never lower it.
3. The category is the model's, unless the safety layer raised the urgency
   and names a category, in which case the category is the safety rule's.
   One exception: the violence and confinement rules say ``family_violence``
   because they cannot tell who is violent; when the model names another
   category of harm (a classmate, a gang, a stranger, a teacher …), the
   model's category stands (``HARM_CATEGORIES``).

Long messages are scored whole and in windows of a few sentences. The most
severe of them gives the urgency, so a key sentence buried in a
2,000-character message is not diluted (and the safety layer reads every
clause anyway). The whole message gives the category (what the message is
about), unless the most severe window is confidently red on its own
(``P(red) >= WINDOW_RED``). Cross-validation on the training split: letting the
whole message decide urgency too lost buried reds.
"""

from __future__ import annotations

import threading
from pathlib import Path

from knowledge.text import pack_sentences
from triage.labels import Category, Urgency, Verdict
from triage.safety import assess_normalized
from triage.scorer import ARTIFACT_DIR, FastScorer, load_scorer
from triage.text import prepare

WINDOW_CHARS = 160
LONG_MESSAGE_CHARS = 240
MAX_WINDOWS = 64
WINDOW_RED = 0.7  # a window this sure of red gives the category too, not only the urgency (see _decisive)
MAX_SCORED_CHARS = 20_000  # the model reads this much; the safety layer reads everything
# Categories of harm the model may name for a message the violence rules raised (see rule 3).
HARM_CATEGORIES = frozenset(
    {
        Category.FAMILY_VIOLENCE,
        Category.SCHOOL_VIOLENCE,
        Category.SEXUAL_ABUSE,
        Category.DELINQUENCY,
        Category.EXPLOITATION,
        Category.MISSING,
        Category.NEGLECT,
        Category.SUICIDE_SELFHARM,
    }
)
DEFAULT_THRESHOLDS = {"red": 0.5, "orange": 0.5, "yellow": 0.5}


def decide_urgency(proba: dict[str, float], thresholds: dict[str, float]) -> tuple[Urgency, float]:
    """The highest level whose cumulative probability reaches its threshold.

    A message whose probability of red alone reaches ``red_guard`` is never
    graded below orange, whatever the cumulative rule says (under-triage of a
    red message is the costly error).
    """
    at_least = 0.0
    level, confidence = Urgency.BLUE, proba.get(Urgency.BLUE.value, 0.0)  # no level above blue reached
    for candidate in (Urgency.RED, Urgency.ORANGE, Urgency.YELLOW):
        at_least += proba.get(candidate.value, 0.0)
        if at_least >= thresholds[candidate.value]:
            level, confidence = candidate, at_least
            break
    if level.rank < Urgency.ORANGE.rank and proba.get("red", 0.0) >= thresholds.get("red_guard", 1.1):
        red = proba.get("red", 0.0)
        level, confidence = Urgency.ORANGE, red + proba.get("orange", 0.0)
    return level, confidence


def _windows(text: str) -> list[str]:
    return pack_sentences(text, WINDOW_CHARS, hard_cut=True)[:MAX_WINDOWS]


Probabilities = tuple[dict[str, float], dict[str, float]]


def _prepare(text: object) -> str:
    """The whole message, normalized: the safety layer reads all of it, the model its first part."""
    if not isinstance(text, str):
        text = str(text)
    return prepare(text)


def _segments(normalized: str) -> list[str]:
    """What the model scores: the whole message and, for a long one, its windows."""
    scored = normalized[:MAX_SCORED_CHARS]
    if len(scored) <= LONG_MESSAGE_CHARS:
        return [scored]
    return [scored, *_windows(scored)]


def _severity(proba: dict[str, float]) -> float:
    return sum(u.rank * proba.get(u.value, 0.0) for u in Urgency.ordered())


def _decisive(candidates: list[Probabilities]) -> Probabilities:
    """Urgency from the most severe part, category from the whole message.

    Urgency: the most severe of the whole message and its windows, so a red
    sentence buried in small talk is not diluted (under-triage is the costly
    error). Category: the whole message's, because its context says what the
    message is about, unless that most severe window is confidently red on
    its own (``P(red) >= WINDOW_RED``), in which case the window's category.
    """
    whole = candidates[0]
    severe = whole
    for window in candidates[1:]:
        if _severity(window[0]) > _severity(severe[0]):
            severe = window
    if severe is whole or severe[0].get(Urgency.RED.value, 0.0) >= WINDOW_RED:
        return severe
    return severe[0], whole[1]


class Classifier:
    """A loaded model plus the safety layer."""

    def __init__(
        self, scorer: FastScorer, thresholds: dict[str, float] | None = None, model: object | None = None
    ) -> None:
        self.scorer = scorer
        self.model = model  # the fitted estimator, when there is one at hand (training); serving needs only the scorer
        self.thresholds = {**DEFAULT_THRESHOLDS, **(thresholds or {})}

    @classmethod
    def load(cls, directory: Path = ARTIFACT_DIR) -> Classifier:
        scorer, meta = load_scorer(directory)
        return cls(scorer, meta.get("thresholds"))

    def classify_batch(self, texts: list[str]) -> list[Verdict]:
        """Grade many messages: one vectorized model pass, then the same rule as :meth:`classify`."""
        prepared = [_prepare(t) for t in texts]
        probas = self.probas_batch_normalized(prepared)
        return [self._verdict(n, p) for n, p in zip(prepared, probas, strict=True)]

    def probas_batch_normalized(self, normalized: list[str]) -> list[Probabilities]:
        """Model probabilities of many prepared texts (for long ones, see :func:`_decisive`)."""
        segments = [_segments(n) for n in normalized]
        flat = [s for group in segments for s in group]
        if not flat:
            return []
        urgency, category = self.scorer.proba_batch_normalized(flat)
        u_names, c_names = self.scorer.urgency_classes, self.scorer.category_classes
        results: list[Probabilities] = []
        row = 0
        for group in segments:
            candidates = [
                (
                    dict(zip(u_names, urgency[row + k].tolist(), strict=True)),
                    dict(zip(c_names, category[row + k].tolist(), strict=True)),
                )
                for k in range(len(group))
            ]
            row += len(group)
            results.append(_decisive(candidates))
        return results

    def model_proba(self, text: str) -> Probabilities:
        """Model probabilities; for long text, see :func:`_decisive`."""
        return self._proba_normalized(_prepare(text))

    def _proba_normalized(self, normalized: str) -> Probabilities:
        segments = _segments(normalized)
        if len(segments) == 1:
            return self.scorer.proba_normalized(segments[0])
        return self.probas_batch_normalized([normalized])[0]  # a long message: its windows in one pass

    def classify(self, text: str) -> Verdict:
        """Grade one message. Never raises on odd input: every string gets a verdict."""
        normalized = _prepare(text)
        return self._verdict(normalized, self._proba_normalized(normalized))

    def verdict(self, normalized: str, probabilities: Probabilities) -> Verdict:
        """The combined rule applied to a normalized text and its model probabilities."""
        return self._verdict(normalized, probabilities)

    def _verdict(self, normalized: str, probabilities: Probabilities) -> Verdict:
        urgency_p, category_p = probabilities
        model_urgency, confidence = decide_urgency(urgency_p, self.thresholds)
        category = Category(max(category_p, key=category_p.__getitem__))
        safety = assess_normalized(normalized)
        urgency = model_urgency
        signals = list(safety.signals)
        if safety.floor.rank > model_urgency.rank:
            urgency, confidence = safety.floor, 1.0
            if safety.category is not None and not (
                safety.category is Category.FAMILY_VIOLENCE and category in HARM_CATEGORIES
            ):
                category = safety.category
            signals.insert(0, f"安全规则: {model_urgency.label_zh}→{urgency.label_zh}")
        if not normalized:
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
