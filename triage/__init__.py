"""Triage: the classifier (pure: text in, verdict out) and the case queue."""
