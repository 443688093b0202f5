"""The learned layer: jieba words (segmented by rjieba) + character n-grams, TF-IDF, multinomial logistic regression.

``TriageModel`` follows scikit-learn's estimator contract (``fit``/``predict``/
``predict_proba``, ``get_params``). It predicts two labels per message,
urgency and category, with one linear head each over shared features.

Serving does not go through scikit-learn's per-call input validation: a
:class:`FastScorer` applies the fitted vocabulary, idf and coefficients by
hand (a sparse dot), which gives the same probabilities (tested) at a
fraction of the cost.

The artifact is one directory: ``pipeline.joblib`` (the fitted estimator),
``userdict.txt`` (the jieba user dictionary) and ``metadata.json`` (library
versions, labels, training-data hash, date, thresholds).
"""

from __future__ import annotations

import itertools
import json
import logging
import math
import re
import threading
from collections import Counter
from dataclasses import dataclass
from importlib.metadata import version as _version
from pathlib import Path
from typing import Any

import numpy as np
import rjieba
import sklearn
from numpy.typing import NDArray
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion

from triage.labels import Category, Urgency
from triage.text import prepare

log = logging.getLogger(__name__)

MODELS_DIR = Path(__file__).with_name("models")
ARTIFACT_DIR = MODELS_DIR / "artifact"
SOURCE_USERDICT = MODELS_DIR / "userdict.txt"

_tokenizer: rjieba.Jieba | None = None
_tokenizer_dict: Path | None = None
_tokenizer_lock = threading.Lock()
_WORD = re.compile(r"\w", re.UNICODE)


def use_userdict(path: Path) -> None:
    """Point the module tokenizer at a user dictionary (the artifact's own copy)."""
    global _tokenizer, _tokenizer_dict
    with _tokenizer_lock:
        if _tokenizer_dict != path:
            _tokenizer, _tokenizer_dict = None, path


def _jieba() -> rjieba.Jieba:
    """rjieba (jieba's segmentation in Rust: same dictionary, same cuts) with the user dictionary applied."""
    global _tokenizer
    with _tokenizer_lock:
        if _tokenizer is None:
            tokenizer = rjieba.Jieba()
            userdict = _tokenizer_dict or SOURCE_USERDICT
            if userdict.exists():
                for word, freq, tag in read_userdict(userdict):
                    tokenizer.add_word(word, freq, tag)
            _tokenizer = tokenizer
        return _tokenizer


def read_userdict(path: Path) -> list[tuple[str, int | None, str | None]]:
    """jieba user-dictionary lines: ``word [freq] [tag]``."""
    entries: list[tuple[str, int | None, str | None]] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if not parts or parts[0].startswith("#"):
            continue
        freq = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
        tag = parts[-1] if len(parts) > 1 and not parts[-1].isdigit() else None
        entries.append((parts[0], freq, tag))
    return entries


def tokenize(text: str) -> list[str]:
    """Word tokens of already-normalized text (module-level so the pipeline pickles)."""
    # Keep words, numbers and emoji; drop spaces and ASCII punctuation.
    return [t for t in _jieba().cut(text, hmm=False) if not t.isspace() and (_WORD.search(t) or not t.isascii())]


def _word_vectorizer() -> TfidfVectorizer:
    return TfidfVectorizer(
        tokenizer=tokenize,
        token_pattern=None,
        lowercase=False,
        ngram_range=(1, 2),
        sublinear_tf=True,
        min_df=2,
        max_features=60_000,
        dtype=np.float32,
    )


def _char_vectorizer() -> TfidfVectorizer:
    return TfidfVectorizer(
        lowercase=False,
        analyzer="char",
        ngram_range=(1, 3),
        sublinear_tf=True,
        min_df=2,
        max_features=80_000,
        dtype=np.float32,
    )


class TriageModel(ClassifierMixin, BaseEstimator):
    """Two linear heads (urgency, category) over shared TF-IDF features.

    ``y`` is an array of shape (n, 2): urgency ids, category ids. Texts are
    normalized here (:func:`triage.text.prepare`), once, before both
    vectorizers; ``predict_proba_normalized`` takes already-normalized text.
    """

    def __init__(self, c_urgency: float = 8.0, c_category: float = 8.0, max_iter: int = 3000) -> None:
        self.c_urgency = c_urgency
        self.c_category = c_category
        self.max_iter = max_iter

    def fit(self, X: list[str], y: Any) -> TriageModel:
        labels = np.asarray(y, dtype=object)
        self.features_ = FeatureUnion([("word", _word_vectorizer()), ("char", _char_vectorizer())])
        matrix = self.features_.fit_transform([prepare(x) for x in X])
        self.urgency_ = LogisticRegression(C=self.c_urgency, class_weight="balanced", max_iter=self.max_iter)
        self.urgency_.fit(matrix, labels[:, 0])
        self.category_ = LogisticRegression(C=self.c_category, class_weight="balanced", max_iter=self.max_iter)
        self.category_.fit(matrix, labels[:, 1])
        self.classes_ = [self.urgency_.classes_, self.category_.classes_]
        return self

    def predict_proba(self, X: list[str]) -> list[NDArray[np.float64]]:
        return self.predict_proba_normalized([prepare(x) for x in X])

    def predict_proba_normalized(self, X: list[str]) -> list[NDArray[np.float64]]:
        matrix = self.features_.transform(X)
        return [self.urgency_.predict_proba(matrix), self.category_.predict_proba(matrix)]

    def predict(self, X: list[str]) -> NDArray[Any]:
        urgency, category = self.predict_proba(X)
        return np.column_stack([self.urgency_.classes_[urgency.argmax(1)], self.category_.classes_[category.argmax(1)]])


@dataclass
class _Vectorizer:
    vocabulary: dict[str, int]
    idf: NDArray[np.float64]
    offset: int
    word: bool

    def features(self, normalized: str) -> dict[int, float]:
        if self.word:
            tokens = tokenize(normalized)
            grams = tokens + [f"{a} {b}" for a, b in itertools.pairwise(tokens)]
        else:
            text = re.sub(r"\s\s+", " ", normalized)
            grams = [text[i : i + n] for n in (1, 2, 3) for i in range(len(text) - n + 1)]
        counts = Counter(j for g in grams if (j := self.vocabulary.get(g)) is not None)
        weights = {j: (1.0 + math.log(c)) * float(self.idf[j]) for j, c in counts.items()}
        norm = math.sqrt(sum(w * w for w in weights.values())) or 1.0
        return {self.offset + j: w / norm for j, w in weights.items()}


class FastScorer:
    """The fitted model applied by hand: vocabulary lookups and a sparse dot."""

    def __init__(self, model: TriageModel) -> None:
        word = model.features_.transformer_list[0][1]
        char = model.features_.transformer_list[1][1]
        self.vectorizers = [
            _Vectorizer(dict(word.vocabulary_), word.idf_.astype(np.float64), 0, True),
            _Vectorizer(dict(char.vocabulary_), char.idf_.astype(np.float64), len(word.vocabulary_), False),
        ]
        self.urgency_classes = [str(c) for c in model.urgency_.classes_]
        self.category_classes = [str(c) for c in model.category_.classes_]
        # Coefficients transposed: one row per feature, so a message's few
        # features select a few rows.
        self.urgency_coef = np.ascontiguousarray(model.urgency_.coef_.T, dtype=np.float64)
        self.urgency_bias = model.urgency_.intercept_.astype(np.float64)
        self.category_coef = np.ascontiguousarray(model.category_.coef_.T, dtype=np.float64)
        self.category_bias = model.category_.intercept_.astype(np.float64)

    def proba(self, text: str) -> tuple[dict[str, float], dict[str, float]]:
        return self.proba_normalized(prepare(text))

    def proba_normalized(self, normalized: str) -> tuple[dict[str, float], dict[str, float]]:
        features: dict[int, float] = {}
        for vectorizer in self.vectorizers:
            features.update(vectorizer.features(normalized))
        ids = np.fromiter(features.keys(), dtype=np.int64, count=len(features))
        values = np.fromiter(features.values(), dtype=np.float64, count=len(features))
        urgency = _softmax(values @ self.urgency_coef[ids] + self.urgency_bias)
        category = _softmax(values @ self.category_coef[ids] + self.category_bias)
        return (
            dict(zip(self.urgency_classes, urgency.tolist(), strict=True)),
            dict(zip(self.category_classes, category.tolist(), strict=True)),
        )


def _softmax(z: NDArray[np.float64]) -> NDArray[np.float64]:
    e = np.exp(z - z.max())
    return e / e.sum()


# ---------------------------------------------------------------- artifact


class ModelVersionError(RuntimeError):
    """The artifact was trained with other library versions than are installed."""


def library_versions() -> dict[str, str]:
    return {"scikit-learn": sklearn.__version__, "numpy": np.__version__, "rjieba": _version("rjieba")}


def save_artifact(model: TriageModel, directory: Path, metadata: dict[str, Any]) -> None:
    import joblib

    directory.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, directory / "pipeline.joblib", compress=3)
    (directory / "userdict.txt").write_text(SOURCE_USERDICT.read_text(encoding="utf-8"), encoding="utf-8")
    meta = {
        **metadata,
        "versions": library_versions(),
        "urgency_labels": [u.value for u in Urgency.ordered()],
        "category_labels": [c.value for c in Category],
    }
    (directory / "metadata.json").write_text(json.dumps(meta, ensure_ascii=False, indent=2), encoding="utf-8")


def load_artifact(directory: Path = ARTIFACT_DIR) -> tuple[TriageModel, dict[str, Any]]:
    """Load the model; a version mismatch is an error that says how to retrain."""
    import joblib

    meta_path = directory / "metadata.json"
    if not meta_path.exists():
        raise FileNotFoundError(f"no triage model in {directory}: run `humiao train` to build it")
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    trained = meta.get("versions", {})
    installed = library_versions()
    mismatched = {k: (trained.get(k), v) for k, v in installed.items() if trained.get(k) != v}
    if mismatched:
        detail = ", ".join(f"{k} trained {a} / installed {b}" for k, (a, b) in mismatched.items())
        raise ModelVersionError(
            f"the triage model in {directory} was built with other library versions ({detail}); "
            "retrain it with `humiao train` (or install the versions in constraints.txt)"
        )
    use_userdict(directory / "userdict.txt")
    model = joblib.load(directory / "pipeline.joblib")
    return model, meta
