"""The outbox's invariants (``seatbot check``, rule 5), as pure checks over the stored rows: every
applied change and every renewal has its one billing event, whose lines are exactly its ledger
lines; every approval step its event; no event records what did not happen.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from billing.events.rules import EventType, event_key
from billing.events.store import OutboxEvent, ledger_line
from billing.formatting import UTC_ZONE, format_instant
from billing.models import LedgerEntry, SeatChangeRequest
from billing.proration import LedgerKind
from billing.requests import RequestStatus


@dataclass(frozen=True, slots=True)
class Violation:
    """One broken invariant: which rule, which row, what is wrong."""

    rule: str
    subject: str
    detail: str

    def __str__(self) -> str:
        return f"{self.rule}: {self.subject}: {self.detail}"


#: The events whose existence the outbox rule checks (others are not tied to the ledger).
_LEDGER_EVENTS = frozenset(
    {EventType.SEAT_CHANGE_APPLIED.value, EventType.SUBSCRIPTION_RENEWED.value}
)


def outbox_violations(
    requests: list[SeatChangeRequest],
    entries: list[LedgerEntry],
    by_request: dict[int, list[LedgerEntry]],
    outbox: list[OutboxEvent],
) -> list[Violation]:
    found: list[Violation] = []
    by_key = {event.idempotency_key: event for event in outbox}
    expected: dict[str, list[LedgerEntry]] = {}
    for request in requests:
        if request.status != RequestStatus.APPLIED.value:
            continue
        key = event_key(EventType.SEAT_CHANGE_APPLIED, request.idempotency_key)
        expected[key] = by_request.get(request.id, [])
        if key not in by_key:
            found.append(
                Violation(
                    "outbox",
                    f"request {request.id}",
                    "was applied but its seat_change.applied event is not in the outbox",
                )
            )
    for entry in entries:
        if entry.kind != LedgerKind.RENEWAL.value:
            continue
        key = event_key(EventType.SUBSCRIPTION_RENEWED, entry.idempotency_key)
        expected[key] = [entry]
        if key not in by_key:
            found.append(
                Violation(
                    "outbox",
                    f"ledger line {entry.id}",
                    f"renews subscription {entry.subscription_id} for the period starting "
                    f"{format_instant(entry.period_start, UTC_ZONE)}, but its "
                    "subscription.renewed event is not in the outbox",
                )
            )
    for event in outbox:
        if event.event_type not in _LEDGER_EVENTS:
            continue
        subject = f"outbox event {event.id} ({event.event_type})"
        lines = expected.get(event.idempotency_key)
        if lines is None:
            found.append(
                Violation(
                    "outbox", subject, "records a change or renewal that is not in the ledger"
                )
            )
            continue
        sent = _event_lines(event.body)
        wanted = [ledger_line(entry).document() for entry in lines]
        if sent is None or _sorted_lines(sent) != _sorted_lines(wanted):
            found.append(
                Violation("outbox", subject, "its lines differ from the ledger lines it records")
            )
    return found


#: A request's approval steps: the event each status it reached through approval must have.
_APPROVAL_EVENTS = {
    RequestStatus.APPLIED: EventType.SEAT_CHANGE_APPROVED,
    RequestStatus.DENIED: EventType.SEAT_CHANGE_DENIED,
    RequestStatus.CANCELLED: EventType.SEAT_CHANGE_CANCELLED,
    RequestStatus.EXPIRED: EventType.SEAT_CHANGE_EXPIRED,
}


def approval_event_violations(
    requests: list[SeatChangeRequest], outbox: list[OutboxEvent]
) -> list[Violation]:
    """A request submitted for approval has its ``seat_change.requested`` event and, once
    decided, the event of its decision; no approval event exists for anything else."""
    found: list[Violation] = []
    present = {event.idempotency_key for event in outbox}
    expected: set[str] = set()
    for request in requests:
        if request.submitted_at is None:
            continue  # never went to approval: only seat_change.applied, checked above
        wanted = [EventType.SEAT_CHANGE_REQUESTED]
        decision = _APPROVAL_EVENTS.get(RequestStatus(request.status))
        if decision is not None:
            wanted.append(decision)
        for event_type in wanted:
            key = event_key(event_type, request.idempotency_key)
            expected.add(key)
            if key not in present:
                found.append(
                    Violation(
                        "outbox",
                        f"request {request.id}",
                        f"is {request.status.replace('_', ' ')} after approval, but its "
                        f"{event_type.value} event is not in the outbox",
                    )
                )
    approval_types = {EventType.SEAT_CHANGE_REQUESTED.value} | {
        event_type.value for event_type in _APPROVAL_EVENTS.values()
    }
    for event in outbox:
        if event.event_type in approval_types and event.idempotency_key not in expected:
            found.append(
                Violation(
                    "outbox",
                    f"outbox event {event.id} ({event.event_type})",
                    "records an approval step its request never took",
                )
            )
    return found


def _event_lines(body: str) -> list[dict[str, object]] | None:
    try:
        document = json.loads(body)
    except ValueError:
        return None
    data = document.get("data") if isinstance(document, dict) else None
    lines = data.get("lines") if isinstance(data, dict) else None
    if not isinstance(lines, list) or not all(isinstance(line, dict) for line in lines):
        return None
    return lines


def _sorted_lines(lines: list[dict[str, object]]) -> list[str]:
    return sorted(json.dumps(line, sort_keys=True) for line in lines)
