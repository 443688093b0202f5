"""The case queue's rules: transitions, urgency that only rises, queue order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from triage.labels import Urgency
from triage.queue import CASE_TRANSITIONS, CaseStatus, InvalidTransition, queue_key, raise_urgency, transition

ALLOWED = [(a, b) for a, targets in CASE_TRANSITIONS.items() for b in targets]
FORBIDDEN = [(a, b) for a in CaseStatus for b in CaseStatus if b not in CASE_TRANSITIONS[a]]


def test_every_status_has_a_row() -> None:
    assert set(CASE_TRANSITIONS) == set(CaseStatus)
    assert all(status.label_zh for status in CaseStatus)


@pytest.mark.parametrize(("current", "target"), ALLOWED)
def test_allowed_moves(current: CaseStatus, target: CaseStatus) -> None:
    assert transition(current, target) is target


@pytest.mark.parametrize(("current", "target"), FORBIDDEN)
def test_forbidden_moves_raise(current: CaseStatus, target: CaseStatus) -> None:
    with pytest.raises(InvalidTransition) as info:
        transition(current, target)
    assert info.value.current is current and info.value.target is target


def test_closed_case_reopens_into_the_queue_only() -> None:
    assert CASE_TRANSITIONS[CaseStatus.CLOSED] == {CaseStatus.WAITING}
    assert not CaseStatus.CLOSED.is_open and CaseStatus.REFERRED.is_open


@pytest.mark.parametrize("current", list(Urgency))
@pytest.mark.parametrize("new", list(Urgency))
def test_urgency_only_rises(current: Urgency, new: Urgency) -> None:
    result = raise_urgency(current, new)
    assert result.rank == max(current.rank, new.rank)


def test_queue_order_most_urgent_then_longest_waiting() -> None:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    cases = [
        ("yellow-old", Urgency.YELLOW, t0),
        ("red-new", Urgency.RED, t0 + timedelta(hours=2)),
        ("orange", Urgency.ORANGE, t0 + timedelta(minutes=5)),
        ("red-old", Urgency.RED, t0 + timedelta(minutes=1)),
        ("blue", Urgency.BLUE, t0 - timedelta(days=1)),
    ]
    ordered = [name for name, u, t in sorted(cases, key=lambda c: queue_key(c[1], c[2]))]
    assert ordered == ["red-old", "red-new", "orange", "yellow-old", "blue"]
