"""Triage: the classifier (pure: text in, verdict out) and the case queue.

``triage.classify(text) -> Verdict`` imports nothing from aiohttp, wechatpy or SQLAlchemy.
"""

from triage.classifier import Classifier, classify, default_classifier
from triage.labels import Category, Urgency, Verdict

__all__ = ["Category", "Classifier", "Urgency", "Verdict", "classify", "default_classifier"]
