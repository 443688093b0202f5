"""The learned layer: jieba words (segmented by rjieba) + character n-grams, TF-IDF, multinomial logistic regression.

``TriageModel`` follows scikit-learn's estimator contract (``fit``/``predict``/
``predict_proba``, ``get_params``). It predicts two labels per message,
urgency and category, with one linear head each over shared features, and a
third, *joint* head over the (urgency, category) pairs seen in training,
fitted on the ``joint_features`` features most associated with those pairs
(chi-squared). The joint head knows that a word means one thing about urgency
in one category and another in the next ("关" in a confinement, in a phone
ban); its pair probabilities, summed to urgency and to category, are mixed
with the two heads' at ``joint_weight`` (chosen by cross-validation on the
training split: CV urgency accuracy +2 points, category +0.5).

Serving does not go through scikit-learn at all: :class:`triage.scorer.FastScorer`
applies the fitted vocabulary, idf and coefficients by hand (a sparse dot),
which gives the same probabilities (tested) at a fraction of the cost.

The artifact is one directory: ``pipeline.joblib`` (the fitted estimator),
``scorer.npz`` (the same model as plain arrays, what serving loads),
``userdict.txt`` (the jieba user dictionary) and ``metadata.json`` (library
versions, labels, training-data hash, date, thresholds, CV metrics).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.feature_selection import SelectKBest, chi2
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion

from triage.labels import Category, Urgency
from triage.scorer import (
    ARTIFACT_DIR,
    MODELS_DIR,
    SCORER_FILE,
    SOURCE_USERDICT,
    FastScorer,
    ModelVersionError,
    library_versions,
    read_metadata,
    tokenize,
    use_userdict,
)
from triage.text import prepare

__all__ = [
    "ARTIFACT_DIR",
    "MODELS_DIR",
    "FastScorer",
    "ModelVersionError",
    "TriageModel",
    "library_versions",
    "load_artifact",
    "save_artifact",
    "tokenize",
]

log = logging.getLogger(__name__)


def _word_vectorizer(min_df: int = 2, max_features: int = 60_000) -> TfidfVectorizer:
    return TfidfVectorizer(
        tokenizer=tokenize,
        token_pattern=None,
        lowercase=False,
        ngram_range=(1, 2),
        sublinear_tf=True,
        min_df=min_df,
        max_features=max_features,
        dtype=np.float32,
    )


def _char_vectorizer(min_df: int = 2, max_features: int = 80_000) -> TfidfVectorizer:
    return TfidfVectorizer(
        lowercase=False,
        analyzer="char",
        ngram_range=(1, 3),
        sublinear_tf=True,
        min_df=min_df,
        max_features=max_features,
        dtype=np.float32,
    )


class TriageModel(ClassifierMixin, BaseEstimator):
    """Two linear heads (urgency, category) over shared TF-IDF features.

    ``y`` is an array of shape (n, 2): urgency ids, category ids. Texts are
    normalized here (:func:`triage.text.prepare`), once, before both
    vectorizers; ``predict_proba_normalized`` takes already-normalized text.
    """

    def __init__(
        self,
        c_urgency: float = 8.0,
        c_category: float = 8.0,
        max_iter: int = 3000,
        min_df: int = 2,
        word_features: int = 60_000,
        char_features: int = 80_000,
        c_joint: float = 16.0,
        joint_features: int = 30_000,
        joint_weight: float = 0.0,
    ) -> None:
        self.c_urgency = c_urgency
        self.c_category = c_category
        self.max_iter = max_iter
        self.min_df = min_df
        self.word_features = word_features
        self.char_features = char_features
        self.c_joint = c_joint
        self.joint_features = joint_features
        self.joint_weight = joint_weight

    def fit(self, X: list[str], y: Any) -> TriageModel:
        labels = np.asarray(y, dtype=object)
        self.features_ = FeatureUnion(
            [
                ("word", _word_vectorizer(self.min_df, self.word_features)),
                ("char", _char_vectorizer(self.min_df, self.char_features)),
            ]
        )
        matrix = self.features_.fit_transform([prepare(x) for x in X])
        for _, vectorizer in self.features_.transformer_list:
            vectorizer.stop_words_ = None  # the terms cut by min_df/max_features: only bulk in the artifact
        self.urgency_ = LogisticRegression(C=self.c_urgency, class_weight="balanced", max_iter=self.max_iter)
        self.urgency_.fit(matrix, labels[:, 0])
        self.category_ = LogisticRegression(C=self.c_category, class_weight="balanced", max_iter=self.max_iter)
        self.category_.fit(matrix, labels[:, 1])
        self.classes_ = [self.urgency_.classes_, self.category_.classes_]
        self.joint_: LogisticRegression | None = None
        if self.joint_weight > 0:
            pairs = np.array([f"{u}|{c}" for u, c in labels])
            k = min(self.joint_features, matrix.shape[1])
            self.joint_columns_ = np.sort(SelectKBest(chi2, k=k).fit(matrix, pairs).get_support(indices=True))
            self.joint_ = LogisticRegression(C=self.c_joint, class_weight="balanced", max_iter=self.max_iter)
            self.joint_.fit(matrix[:, self.joint_columns_], pairs)
            split = [str(p).split("|") for p in self.joint_.classes_]
            # (pairs x urgency classes) and (pairs x category classes): sum pair probabilities to each label
            self.joint_to_urgency_ = np.array([[float(u == x) for x in self.urgency_.classes_] for u, _ in split])
            self.joint_to_category_ = np.array([[float(c == x) for x in self.category_.classes_] for _, c in split])
        return self

    def predict_proba(self, X: list[str]) -> list[NDArray[np.float64]]:
        return self.predict_proba_normalized([prepare(x) for x in X])

    def predict_proba_normalized(self, X: list[str]) -> list[NDArray[np.float64]]:
        matrix = self.features_.transform(X)
        urgency, category = self.urgency_.predict_proba(matrix), self.category_.predict_proba(matrix)
        if getattr(self, "joint_", None) is not None:
            pairs = self.joint_.predict_proba(matrix[:, self.joint_columns_])  # type: ignore[union-attr]
            w = self.joint_weight
            urgency = (1 - w) * urgency + w * (pairs @ self.joint_to_urgency_)
            category = (1 - w) * category + w * (pairs @ self.joint_to_category_)
        return [urgency, category]

    def predict(self, X: list[str]) -> NDArray[Any]:
        urgency, category = self.predict_proba(X)
        return np.column_stack([self.urgency_.classes_[urgency.argmax(1)], self.category_.classes_[category.argmax(1)]])


# ---------------------------------------------------------------- artifact


def save_artifact(model: TriageModel, directory: Path, metadata: dict[str, Any]) -> None:
    import joblib

    directory.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, directory / "pipeline.joblib", compress=3)
    FastScorer(model).save(directory / SCORER_FILE)
    (directory / "userdict.txt").write_text(SOURCE_USERDICT.read_text(encoding="utf-8"), encoding="utf-8")
    meta = {
        **metadata,
        "versions": library_versions(),
        "urgency_labels": [u.value for u in Urgency.ordered()],
        "category_labels": [c.value for c in Category],
    }
    (directory / "metadata.json").write_text(json.dumps(meta, ensure_ascii=False, indent=2), encoding="utf-8")


def load_artifact(directory: Path = ARTIFACT_DIR) -> tuple[TriageModel, dict[str, Any]]:
    """Load the fitted estimator; a version mismatch is an error that says how to retrain."""
    import joblib

    meta = read_metadata(directory)
    use_userdict(directory / "userdict.txt")
    model = joblib.load(directory / "pipeline.joblib")
    return model, meta
