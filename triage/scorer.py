"""The serving side of the learned layer: tokenizer, TF-IDF and linear heads applied by hand.

Nothing here imports scikit-learn: :class:`FastScorer` holds the fitted
vocabularies, idf weights and coefficients as plain arrays (``scorer.npz`` in
the artifact directory) and computes the same probabilities as the fitted
estimator (tested), so serving loads in a fraction of a second.
"""

from __future__ import annotations

import itertools
import json
import math
import re
import threading
from collections import Counter
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _version
from pathlib import Path
from typing import Any

import numpy as np
import rjieba
import scipy.sparse as sp
from numpy.typing import NDArray

from knowledge.text import read_userdict
from triage.text import prepare

MODELS_DIR = Path(__file__).with_name("models")
ARTIFACT_DIR = MODELS_DIR / "artifact"
SOURCE_USERDICT = MODELS_DIR / "userdict.txt"
SCORER_FILE = "scorer.npz"

_tokenizer: rjieba.Jieba | None = None
_tokenizer_dict: Path | None = None
_tokenizer_lock = threading.Lock()
_WORD = re.compile(r"\w", re.UNICODE)
_SPACES = re.compile(r"\s\s+")  # scikit-learn's char analyzer squeezes runs of white space


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


def tokenize(text: str) -> list[str]:
    """Word tokens of already-normalized text (module-level so the pipeline pickles)."""
    # Keep words, numbers and emoji; drop spaces and ASCII punctuation.
    return [t for t in _jieba().cut(text, hmm=False) if (not t.isspace() if not t.isascii() else _WORD.search(t))]


@dataclass
class _Vectorizer:
    vocabulary: dict[str, int]
    idf: NDArray[np.float64]
    offset: int
    word: bool

    def __post_init__(self) -> None:
        # Python floats for the per-message path: indexing a NumPy array yields a NumPy scalar, several times
        # slower to fetch and convert than a list item (the same values, so the same scores).
        self.idf_values: list[float] = self.idf.tolist()

    def grams(self, normalized: str) -> list[str]:
        """The terms the fitted vectorizer counts (word 1-2-grams, or char 1-3-grams)."""
        if self.word:
            tokens = tokenize(normalized)
            return tokens + [f"{a} {b}" for a, b in itertools.pairwise(tokens)]
        text = _SPACES.sub(" ", normalized)
        return [text[i : i + n] for n in (1, 2, 3) for i in range(len(text) - n + 1)]

    def matrix(self, texts: list[str]) -> sp.csr_matrix:
        """TF-IDF rows of many texts at once (sublinear tf, idf, l2), as scikit-learn computes them."""
        get = self.vocabulary.get
        indices: list[int] = []
        indptr = [0]
        for text in texts:
            indices.extend(j for g in self.grams(text) if (j := get(g)) is not None)
            indptr.append(len(indices))
        counts = sp.csr_matrix(
            (np.ones(len(indices)), np.asarray(indices, dtype=np.int64), np.asarray(indptr, dtype=np.int64)),
            shape=(len(texts), len(self.vocabulary)),
        )
        counts.sum_duplicates()
        counts.data = (1.0 + np.log(counts.data)) * self.idf[counts.indices]
        norms = np.sqrt(np.asarray(counts.multiply(counts).sum(axis=1)).ravel())
        norms[norms == 0.0] = 1.0
        return sp.csr_matrix(sp.diags(1.0 / norms) @ counts)

    def features(self, normalized: str) -> dict[int, float]:
        counts = Counter(j for g in self.grams(normalized) if (j := self.vocabulary.get(g)) is not None)
        idf = self.idf_values
        weights = {j: (1.0 + math.log(c)) * idf[j] for j, c in counts.items()}
        norm = math.sqrt(sum(w * w for w in weights.values())) or 1.0
        return {self.offset + j: w / norm for j, w in weights.items()}


class FastScorer:
    """The fitted model applied by hand: vocabulary lookups and a sparse dot."""

    def __init__(self, model: Any) -> None:
        """Build from a fitted :class:`triage.model.TriageModel`."""
        word = model.features_.transformer_list[0][1]
        char = model.features_.transformer_list[1][1]
        assert tuple(word.ngram_range) == (1, 2) and tuple(char.ngram_range) == (1, 3), "FastScorer's n-gram ranges"
        joint = getattr(model, "joint_", None)
        self._setup(
            {str(k): int(v) for k, v in word.vocabulary_.items()},
            word.idf_,
            {str(k): int(v) for k, v in char.vocabulary_.items()},
            char.idf_,
            [str(c) for c in model.urgency_.classes_],
            [str(c) for c in model.category_.classes_],
            model.urgency_.coef_.T,
            model.urgency_.intercept_,
            model.category_.coef_.T,
            model.category_.intercept_,
            _Joint(
                np.asarray(model.joint_columns_, dtype=np.int64),
                joint.coef_.T,
                joint.intercept_,
                model.joint_to_urgency_,
                model.joint_to_category_,
                float(model.joint_weight),
            )
            if joint is not None
            else None,
        )

    def _setup(
        self,
        word_vocabulary: dict[str, int],
        word_idf: NDArray[Any],
        char_vocabulary: dict[str, int],
        char_idf: NDArray[Any],
        urgency_classes: list[str],
        category_classes: list[str],
        urgency_coef: NDArray[Any],
        urgency_bias: NDArray[Any],
        category_coef: NDArray[Any],
        category_bias: NDArray[Any],
        joint: _Joint | None = None,
    ) -> None:
        self.vectorizers = [
            _Vectorizer(word_vocabulary, np.asarray(word_idf, dtype=np.float64), 0, True),
            _Vectorizer(char_vocabulary, np.asarray(char_idf, dtype=np.float64), len(word_vocabulary), False),
        ]
        self.urgency_classes = urgency_classes
        self.category_classes = category_classes
        self.joint = joint
        # Coefficients transposed: one row per feature, so a message's few
        # features select a few rows; urgency and category side by side in one
        # matrix, so one product scores both. The joint head stays compact (its
        # selected features only), reached through ``joint_rows``: widening it to
        # every feature would triple the matrix for rows that are nearly all zero.
        n_features = len(word_vocabulary) + len(char_vocabulary)
        self.coef = np.ascontiguousarray(
            np.hstack([np.asarray(urgency_coef, dtype=np.float64), np.asarray(category_coef, dtype=np.float64)])
        )
        self.bias = np.concatenate(
            [np.asarray(urgency_bias, dtype=np.float64), np.asarray(category_bias, dtype=np.float64)]
        )
        self._u = slice(0, len(urgency_classes))
        self._c = slice(self._u.stop, self.coef.shape[1])
        if joint is not None:
            self.joint_coef = np.ascontiguousarray(joint.coef, dtype=np.float64)
            self.joint_bias = np.asarray(joint.bias, dtype=np.float64)
            self.joint_rows = np.full(n_features, -1, dtype=np.int64)  # feature -> row of joint_coef, or -1
            self.joint_rows[joint.columns] = np.arange(len(joint.columns))
            n_word = len(word_vocabulary)
            self._joint_word = joint.columns[joint.columns < n_word]  # columns are sorted: word rows come first
            self._joint_char = joint.columns[joint.columns >= n_word] - n_word

    def _probabilities(
        self, logits: NDArray[np.float64], joint_logits: NDArray[np.float64] | None
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Rows of urgency and category probabilities from rows of logits of the heads."""
        urgency, category = _softmax_rows(logits[:, self._u]), _softmax_rows(logits[:, self._c])
        if self.joint is not None and joint_logits is not None:
            pairs = _softmax_rows(joint_logits)
            w = self.joint.weight
            urgency = (1 - w) * urgency + w * (pairs @ self.joint.to_urgency)
            category = (1 - w) * category + w * (pairs @ self.joint.to_category)
        return urgency, category

    def save(self, path: Path) -> None:
        """Write the arrays (coefficients as float32) to one compressed ``.npz``."""
        word, char = self.vectorizers
        n_u = len(self.urgency_classes)
        joint: dict[str, Any] = {}
        if self.joint is not None:
            joint = {
                "joint_columns": self.joint.columns,
                "joint_coef": self.joint.coef.astype(np.float32),
                "joint_bias": self.joint.bias,
                "joint_to_urgency": self.joint.to_urgency,
                "joint_to_category": self.joint.to_category,
                "joint_weight": np.array(self.joint.weight),
            }
        np.savez_compressed(
            path,
            word_terms=_terms(word.vocabulary),
            word_idf=word.idf.astype(np.float32),
            char_terms=_terms(char.vocabulary),
            char_idf=char.idf.astype(np.float32),
            urgency_classes=np.array(self.urgency_classes),
            category_classes=np.array(self.category_classes),
            urgency_coef=self.coef[:, :n_u].astype(np.float32),
            urgency_bias=self.bias[:n_u],
            category_coef=self.coef[:, n_u:].astype(np.float32),
            category_bias=self.bias[n_u:],
            **joint,
        )

    @classmethod
    def load(cls, path: Path) -> FastScorer:
        with np.load(path, allow_pickle=False) as arrays:
            scorer = cls.__new__(cls)
            joint = None
            if "joint_coef" in arrays.files:
                joint = _Joint(
                    arrays["joint_columns"],
                    arrays["joint_coef"],
                    arrays["joint_bias"],
                    arrays["joint_to_urgency"],
                    arrays["joint_to_category"],
                    float(arrays["joint_weight"]),
                )
            scorer._setup(
                {t: i for i, t in enumerate(arrays["word_terms"].tolist())},
                arrays["word_idf"],
                {t: i for i, t in enumerate(arrays["char_terms"].tolist())},
                arrays["char_idf"],
                arrays["urgency_classes"].tolist(),
                arrays["category_classes"].tolist(),
                arrays["urgency_coef"],
                arrays["urgency_bias"],
                arrays["category_coef"],
                arrays["category_bias"],
                joint,
            )
        return scorer

    def proba(self, text: str) -> tuple[dict[str, float], dict[str, float]]:
        return self.proba_normalized(prepare(text))

    def proba_batch_normalized(self, texts: list[str]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Urgency and category probabilities of many prepared texts (rows in class order)."""
        word, char = self.vectorizers
        n_word = len(word.vocabulary)
        word_m, char_m = word.matrix(texts), char.matrix(texts)
        logits = word_m @ self.coef[:n_word] + char_m @ self.coef[n_word:] + self.bias
        joint_logits = None
        if self.joint is not None:
            n_joint_word = len(self._joint_word)
            joint_logits = np.asarray(
                word_m[:, self._joint_word] @ self.joint_coef[:n_joint_word]
                + char_m[:, self._joint_char] @ self.joint_coef[n_joint_word:]
                + self.joint_bias
            )
        return self._probabilities(np.asarray(logits), joint_logits)

    def proba_normalized(self, normalized: str) -> tuple[dict[str, float], dict[str, float]]:
        features: dict[int, float] = {}
        for vectorizer in self.vectorizers:
            features.update(vectorizer.features(normalized))
        ids = np.fromiter(features.keys(), dtype=np.int64, count=len(features))
        values = np.fromiter(features.values(), dtype=np.float64, count=len(features))
        joint_logits = None
        if self.joint is not None:
            rows = self.joint_rows[ids]
            selected = rows >= 0
            joint_logits = (values[selected] @ self.joint_coef[rows[selected]] + self.joint_bias)[np.newaxis, :]
        urgency, category = self._probabilities((values @ self.coef[ids] + self.bias)[np.newaxis, :], joint_logits)
        return (
            dict(zip(self.urgency_classes, urgency[0].tolist(), strict=True)),
            dict(zip(self.category_classes, category[0].tolist(), strict=True)),
        )


@dataclass
class _Joint:
    """The joint (urgency, category) head: its features, coefficients and how pairs sum to labels."""

    columns: NDArray[np.int64]  # the selected feature indices
    coef: NDArray[Any]  # (selected features, pairs)
    bias: NDArray[Any]
    to_urgency: NDArray[Any]  # (pairs, urgency classes) of 0/1
    to_category: NDArray[Any]  # (pairs, category classes) of 0/1
    weight: float


def _terms(vocabulary: dict[str, int]) -> NDArray[np.str_]:
    terms = [""] * len(vocabulary)
    for term, index in vocabulary.items():
        terms[index] = term
    return np.array(terms)


def _softmax_rows(z: NDArray[np.float64]) -> NDArray[np.float64]:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return np.asarray(e / e.sum(axis=1, keepdims=True))


# ---------------------------------------------------------------- versions and loading


class ModelVersionError(RuntimeError):
    """The artifact was trained with other library versions than are installed."""


def library_versions() -> dict[str, str]:
    """Installed versions of the libraries the artifact depends on (without importing scikit-learn)."""
    versions = {}
    for name in ("scikit-learn", "numpy", "rjieba"):
        try:
            versions[name] = _version(name)
        except PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def read_metadata(directory: Path) -> dict[str, Any]:
    """The artifact's metadata; a version mismatch is an error that says how to retrain."""
    meta_path = directory / "metadata.json"
    if not meta_path.exists():
        raise FileNotFoundError(f"no triage model in {directory}: run `humiao train` to build it")
    meta: dict[str, Any] = json.loads(meta_path.read_text(encoding="utf-8"))
    trained = meta.get("versions", {})
    installed = library_versions()
    mismatched = {k: (trained.get(k), v) for k, v in installed.items() if trained.get(k) != v}
    if mismatched:
        detail = ", ".join(f"{k} trained {a} / installed {b}" for k, (a, b) in mismatched.items())
        raise ModelVersionError(
            f"the triage model in {directory} was built with other library versions ({detail}); "
            "retrain it with `humiao train` (or install the versions in constraints.txt)"
        )
    return meta


def load_scorer(directory: Path = ARTIFACT_DIR) -> tuple[FastScorer, dict[str, Any]]:
    """The serving scorer and metadata of an artifact directory (no scikit-learn import)."""
    meta = read_metadata(directory)
    use_userdict(directory / "userdict.txt")
    scorer = FastScorer.load(directory / SCORER_FILE)
    _jieba()  # load the dictionary now, not on the first message
    return scorer, meta
