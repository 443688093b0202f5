"""The case queue's rules (pure): case states, the allowed moves between them, queue order.

A case is opened when a conversation needs a person (any red, orange or
yellow message, or a request for a human). Its status only changes through
:func:`transition`, which consults :data:`CASE_TRANSITIONS` and raises
:class:`InvalidTransition` otherwise — never a toggle. Storage (``bot.db``)
calls these rules; nothing here does I/O.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from triage.labels import Urgency


class CaseStatus(StrEnum):
    """Where a case is in the hotline's work."""

    WAITING = "waiting"  # in the queue, no operator yet (or handed back)
    CLAIMED = "claimed"  # an operator owns it and the conversation
    REFERRED = "referred"  # handed to the lead department; awaiting their answer
    FOLLOW_UP = "follow_up"  # contact made; scheduled follow-up
    CLOSED = "closed"

    @property
    def is_open(self) -> bool:
        return self is not CaseStatus.CLOSED

    @property
    def label_zh(self) -> str:
        return CASE_STATUS_NAMES_ZH[self]


CASE_STATUS_NAMES_ZH = {
    CaseStatus.WAITING: "待接手",
    CaseStatus.CLAIMED: "处理中",
    CaseStatus.REFERRED: "已转介",
    CaseStatus.FOLLOW_UP: "跟进中",
    CaseStatus.CLOSED: "已结案",
}

# Allowed moves. Anything else is a bug or a race and raises InvalidTransition.
CASE_TRANSITIONS: dict[CaseStatus, frozenset[CaseStatus]] = {
    CaseStatus.WAITING: frozenset({CaseStatus.CLAIMED, CaseStatus.CLOSED}),
    CaseStatus.CLAIMED: frozenset({CaseStatus.WAITING, CaseStatus.REFERRED, CaseStatus.FOLLOW_UP, CaseStatus.CLOSED}),
    CaseStatus.REFERRED: frozenset({CaseStatus.CLAIMED, CaseStatus.FOLLOW_UP, CaseStatus.CLOSED}),
    CaseStatus.FOLLOW_UP: frozenset({CaseStatus.CLAIMED, CaseStatus.WAITING, CaseStatus.CLOSED}),
    # A closed case is reopened into the queue, never straight into someone's hands.
    CaseStatus.CLOSED: frozenset({CaseStatus.WAITING}),
}


class InvalidTransition(ValueError):
    """A status change the transition table does not allow."""

    def __init__(self, current: StrEnum, target: StrEnum) -> None:
        super().__init__(f"cannot move from {current.value!r} to {target.value!r}")
        self.current = current
        self.target = target


def transition(current: CaseStatus, target: CaseStatus) -> CaseStatus:
    """Return ``target`` if the move is allowed, else raise :class:`InvalidTransition`."""
    if target not in CASE_TRANSITIONS[current]:
        raise InvalidTransition(current, target)
    return target


def raise_urgency(current: Urgency, new: Urgency) -> Urgency:
    """A case's urgency only rises automatically; lowering it is an operator's decision."""
    return new if new.rank > current.rank else current


def queue_key(urgency: Urgency, waiting_since: datetime) -> tuple[int, datetime]:
    """Sort key for the queue: most urgent first, then longest waiting."""
    return (-urgency.rank, waiting_since)
