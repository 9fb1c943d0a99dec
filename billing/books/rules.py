"""The invariants money depends on, as pure checks over every stored row (``seatbot check``).

1. **Seats**: every subscription's seats equal the seats it started with plus its applied
   changes, and its applied changes chain (each starts where the previous one ended).
2. **Ledger = stored quote**: every applied request has exactly the ledger lines of the quote it
   stored (kinds, quantities, amounts, currency, period, keys derived from its own key); no
   other request has any.
3. **Nothing twice**: every applied request was approved and applied once (one audit event
   each); ledger keys are unique (the database enforces it too).
4. **Audit chains**: each request's trail starts with its creation and ends in an event that
   matches its status.
5. **Outbox**: every applied change and every renewal has its one billing event in the outbox
   (written in the same transaction), whose lines are exactly its ledger lines; no event
   records a change or renewal that did not happen.

Read-only: it reports, never repairs. Each violation names the row and what is wrong, in words.

The rows are read by :func:`billing.books.store.read_books`; the outbox rules (5) are
:mod:`billing.books.event_rules`.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from billing.books.event_rules import (
    Violation,
    approval_event_violations,
    outbox_violations,
)
from billing.books.store import Books
from billing.formatting import UTC_ZONE, format_instant
from billing.models import AuditEvent, LedgerEntry, SeatChangeRequest, Subscription
from billing.proration import LedgerKind
from billing.requests import RequestStatus
from billing.storage import ledger_key, stored_lines

#: The audit action that must close a request's trail in each final status.
_CLOSING_ACTION = {
    RequestStatus.APPLIED: "request.applied",
    RequestStatus.CANCELLED: "request.cancelled",
    RequestStatus.DENIED: "request.denied",
    RequestStatus.EXPIRED: "request.expired",
    RequestStatus.FAILED: "request.failed",
}

#: Audit actions that change a request's status (others, such as a re-quote, do not).
_STATUS_ACTIONS = frozenset({*_CLOSING_ACTION.values(), "request.approved", "request.submitted"})


@dataclass(frozen=True, slots=True)
class CheckReport:
    """What was checked and what was found."""

    subscriptions: int
    requests: int
    ledger_lines: int
    violations: tuple[Violation, ...]
    outbox_events: int = 0

    @property
    def clean(self) -> bool:
        return not self.violations


def check_books(books: Books) -> CheckReport:
    """Every invariant over ``books`` (every row, read at once by :func:`read_books`)."""
    names = {s.id: f"subscription {s.id} ({books.accounts.get(s.account_id, '?')} {s.product})"
             for s in books.subscriptions}  # fmt: skip
    by_request: dict[int, list[LedgerEntry]] = defaultdict(list)
    for entry in books.entries:
        if entry.request_id is not None:
            by_request[entry.request_id].append(entry)
    trails: dict[int, list[str]] = defaultdict(list)
    for event in books.events:
        request_id = _request_id(event)
        if request_id is not None:
            trails[request_id].append(event.action)

    requests, entries, outbox = books.requests, books.entries, books.outbox
    violations: list[Violation] = []
    violations += _seat_violations(books.subscriptions, requests, names)
    violations += _ledger_violations(requests, by_request)
    violations += _key_violations(entries)
    violations += _trail_violations(requests, trails)
    violations += outbox_violations(requests, entries, by_request, outbox)
    violations += approval_event_violations(requests, outbox)
    return CheckReport(
        len(books.subscriptions), len(requests), len(entries), tuple(violations), len(outbox)
    )


def _request_id(event: AuditEvent) -> int | None:
    if not event.action.startswith("request."):
        return None
    try:
        details = json.loads(event.details or "{}")
    except ValueError:
        return None
    value = details.get("request_id") if isinstance(details, dict) else None
    return value if isinstance(value, int) else None


def _seat_violations(
    subscriptions: list[Subscription], requests: list[SeatChangeRequest], names: dict[int, str]
) -> list[Violation]:
    found: list[Violation] = []
    applied: dict[int, list[SeatChangeRequest]] = defaultdict(list)
    for request in requests:
        if request.status == RequestStatus.APPLIED.value:
            applied[request.subscription_id].append(request)
    for subscription in subscriptions:
        # An apply moves the subscription from the version its quote was made on to the next,
        # so the quoted versions order the applied changes exactly (clocks may tie).
        changes = sorted(applied[subscription.id], key=lambda r: (r.quoted_version, r.id))
        versions = Counter(r.quoted_version for r in changes)
        for version, count in sorted(versions.items()):
            if count > 1:
                found.append(
                    Violation(
                        "twice",
                        names[subscription.id],
                        f"{count} changes were applied on the same version {version}",
                    )
                )
        delta = sum(r.new_seats - r.old_seats for r in changes)
        expected = subscription.initial_seats + delta
        if subscription.seats != expected:
            found.append(
                Violation(
                    "seats",
                    names[subscription.id],
                    f"has {subscription.seats} seats, but it started with "
                    f"{subscription.initial_seats} and its applied changes add {delta:+d} "
                    f"(so {expected})",
                )
            )
        running = subscription.initial_seats
        for request in changes:
            if request.old_seats != running:
                found.append(
                    Violation(
                        "seats",
                        f"request {request.id}",
                        f"was applied from {request.old_seats} seats, but "
                        f"{names[subscription.id]} had {running} then",
                    )
                )
            running = request.new_seats
    return found


def _ledger_violations(
    requests: list[SeatChangeRequest], by_request: dict[int, list[LedgerEntry]]
) -> list[Violation]:
    found: list[Violation] = []
    for request in requests:
        written = by_request.get(request.id, [])
        if request.status != RequestStatus.APPLIED.value:
            if written:
                found.append(
                    Violation(
                        "ledger",
                        f"request {request.id}",
                        f"is {request.status.replace('_', ' ')} but has {len(written)} "
                        "ledger line(s)",
                    )
                )
            continue
        expected = sorted(
            (
                line.kind.value,
                line.quantity,
                line.amount.minor,
                line.amount.currency,
                request.quoted_period_start,
                request.quoted_period_end,
                ledger_key(request, line.kind),
            )
            for line in stored_lines(request)
        )
        actual = sorted(
            (
                entry.kind,
                entry.quantity,
                entry.amount_minor,
                entry.currency,
                entry.period_start,
                entry.period_end,
                entry.idempotency_key,
            )
            for entry in written
        )
        if actual != expected:
            found.append(
                Violation(
                    "ledger",
                    f"request {request.id}",
                    f"its ledger lines {_lines(actual)} differ from its stored quote "
                    f"{_lines(expected)}",
                )
            )
        if request.net_minor != sum(item[2] for item in expected):
            found.append(
                Violation(
                    "ledger",
                    f"request {request.id}",
                    f"stores a net of {request.net_minor} but its lines add up to "
                    f"{sum(item[2] for item in expected)} (minor units)",
                )
            )
    return found


def _lines(items: Sequence[tuple[object, ...]]) -> str:
    shown = ", ".join(f"{kind} {quantity} × {amount}" for kind, quantity, amount, *_ in items)
    return f"[{shown}]"


def _key_violations(entries: list[LedgerEntry]) -> list[Violation]:
    found: list[Violation] = []
    counts = Counter(entry.idempotency_key for entry in entries)
    for key, count in sorted(counts.items()):
        if count > 1:
            found.append(Violation("twice", f"ledger key {key}", f"is written {count} times"))
    renewals = Counter(
        (entry.subscription_id, entry.period_start)
        for entry in entries
        if entry.kind == LedgerKind.RENEWAL.value
    )
    for (subscription_id, start), count in sorted(renewals.items()):
        if count > 1:
            found.append(
                Violation(
                    "twice",
                    f"subscription {subscription_id}",
                    f"is renewed {count} times for the period starting "
                    f"{format_instant(start, UTC_ZONE)}",
                )
            )
    return found


def _trail_violations(
    requests: list[SeatChangeRequest], trails: dict[int, list[str]]
) -> list[Violation]:
    found: list[Violation] = []
    for request in requests:
        trail = trails.get(request.id, [])
        subject = f"request {request.id}"
        if not trail or trail[0] != "request.created":
            found.append(Violation("audit", subject, "its trail does not start with its creation"))
            continue
        status = RequestStatus(request.status)
        counts = Counter(trail)
        if status is RequestStatus.APPLIED:
            if counts["request.applied"] != 1 or counts["request.approved"] != 1:
                found.append(
                    Violation(
                        "twice",
                        subject,
                        f"is recorded approved {counts['request.approved']} time(s) and applied "
                        f"{counts['request.applied']} time(s), not once each",
                    )
                )
            elif trail.index("request.approved") > trail.index("request.applied"):
                found.append(Violation("audit", subject, "was applied before it was approved"))
        status_actions = [action for action in trail if action in _STATUS_ACTIONS]
        closing = _CLOSING_ACTION.get(status)
        last = status_actions[-1] if status_actions else None
        if closing is not None and last != closing:
            found.append(
                Violation(
                    "audit",
                    subject,
                    f"is {status.value.replace('_', ' ')} but its trail ends with "
                    f"{last or 'its creation'}",
                )
            )
        if closing is None and last in _CLOSING_ACTION.values():
            found.append(
                Violation("audit", subject, f"is still {status.value.replace('_', ' ')} but "
                          f"its trail ends with {last}")
            )  # fmt: skip
    return found
