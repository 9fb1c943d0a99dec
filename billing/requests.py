"""The seat-change request state machine: which status may follow which.

::

    draft ──► pending_approval ──► approved ──► applied
      │              │   └──► denied             └──► failed
      │              └──► cancelled / expired
      ├──► approved (no approval needed)
      └──► cancelled / expired

Every transition in the database is a compare-and-set on the current status
(``UPDATE ... WHERE status = :from``), so two clicks, retries or replicas cannot both win.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping

from billing.errors import InvalidTransition


class RequestStatus(enum.StrEnum):
    """Where a seat-change request is in its life."""

    DRAFT = "draft"  # quoted, waiting for the owner's confirmation
    PENDING_APPROVAL = "pending_approval"  # confirmed, waiting for a manager
    APPROVED = "approved"  # may be applied
    APPLIED = "applied"  # seats changed, ledger written
    DENIED = "denied"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    FAILED = "failed"


class RequestSource(enum.StrEnum):
    """Where a seat change was started, when not by ``/seats`` or the form (recorded on the
    request, in its audit entries and in its webhook events' ``data.source``)."""

    DIGEST = "digest"  # the digest's right-size button (or its "check again" answer)


def request_source(value: object) -> RequestSource | None:
    """The source ``value`` names, or ``None`` for anything else (a form's metadata is only a
    claim: an unknown source is not recorded)."""
    try:
        return RequestSource(value) if isinstance(value, str) else None
    except ValueError:
        return None


TRANSITIONS: Mapping[RequestStatus, frozenset[RequestStatus]] = {
    RequestStatus.DRAFT: frozenset(
        {
            RequestStatus.PENDING_APPROVAL,
            RequestStatus.APPROVED,
            RequestStatus.CANCELLED,
            RequestStatus.EXPIRED,
        }
    ),
    RequestStatus.PENDING_APPROVAL: frozenset(
        {
            RequestStatus.APPROVED,
            RequestStatus.DENIED,
            RequestStatus.CANCELLED,
            RequestStatus.EXPIRED,
        }
    ),
    RequestStatus.APPROVED: frozenset({RequestStatus.APPLIED, RequestStatus.FAILED}),
    RequestStatus.APPLIED: frozenset(),
    RequestStatus.DENIED: frozenset(),
    RequestStatus.CANCELLED: frozenset(),
    RequestStatus.EXPIRED: frozenset(),
    RequestStatus.FAILED: frozenset(),
}

#: Statuses in which the owner can still withdraw the request.
OPEN_STATUSES: frozenset[RequestStatus] = frozenset(
    {RequestStatus.DRAFT, RequestStatus.PENDING_APPROVAL}
)


def is_terminal(status: RequestStatus) -> bool:
    """True when no transition leaves ``status``."""
    return not TRANSITIONS[status]


def can_transition(current: RequestStatus, target: RequestStatus) -> bool:
    """True when ``target`` may directly follow ``current``."""
    return target in TRANSITIONS[current]


def check_transition(current: RequestStatus, target: RequestStatus) -> None:
    """Raise :class:`InvalidTransition` (owner-readable) unless ``current → target`` is allowed."""
    if not can_transition(current, target):
        raise InvalidTransition(
            f"This seat change is {current.value.replace('_', ' ')}, "
            f"so it cannot move to {target.value.replace('_', ' ')}."
        )
