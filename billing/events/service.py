"""Delivering the outbox, as use cases of one short transaction each: which events are due,
claiming an attempt, recording how it went (the retry schedule is :mod:`billing.events.rules`'),
telling the owners once, and the operator's list and retry.

Every step is a compare-and-set on the event's row, never ``SELECT … FOR UPDATE``:

* an attempt is **claimed** with ``UPDATE … SET claimed_until = :until, attempts = attempts + 1
  WHERE id = :id AND status = 'pending' AND next_attempt_at <= :now AND (claimed_until IS NULL
  OR claimed_until <= :now)``: of several replicas exactly one wins each attempt; a process
  that dies holding a claim loses it when ``claimed_until`` passes, and the event is tried again
  (with the same ``webhook_id``: at least once, deduplicable);
* the outcome is recorded only by the attempt that claimed it (``attempts = :attempt``), except
  success, which is recorded whoever sent it (``pending`` → ``sent``);
* a failure makes the event due again after the schedule's next delay, or, after the last,
  ``failed``; one process then claims the owners' notice (``owners_notified_at``), so they are
  told once.

The delivery itself (HTTP, signatures, Slack) is ``bot``'s: this module only keeps the books.
Time is passed in.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Select, func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from billing.access import Role
from billing.errors import InvalidInput, NotFound
from billing.events.rules import DEFAULT_RETRY_SCHEDULE, OutboxStatus, RetrySchedule
from billing.events.store import BillingWebhook, OutboxEvent
from billing.formatting import UTC_ZONE, format_instant
from billing.models import Account, Member
from billing.storage import Storage, audit, execute_update


@dataclass(frozen=True)
class Delivery:
    """A claimed attempt: what to send, and which attempt this is (1 for the first)."""

    event_id: int
    webhook_id: str
    event_type: str
    account_id: int
    body: str
    attempt: int


@dataclass(frozen=True)
class AttemptRecorded:
    """What a failed attempt led to: another at ``retry_at``, or ``failed``; ``recorded`` is
    ``False`` when the claim had been lost meanwhile (another process took the event over)."""

    recorded: bool
    retry_at: datetime | None = None

    @property
    def failed(self) -> bool:
        return self.recorded and self.retry_at is None


@dataclass(frozen=True)
class FailureNotice:
    """What the owners are told about an event that finally failed."""

    event_id: int
    webhook_id: str
    event_type: str
    account_name: str
    account_display_name: str
    request_id: int | None
    attempts: int
    last_error: str | None
    owners: tuple[tuple[str, str], ...]  # (team_id, user_id)


@dataclass(frozen=True)
class OutboxEntry:
    """One outbox event, for the operator (``seatbot webhooks list``)."""

    id: int
    webhook_id: str
    event_type: str
    account: str
    request_id: int | None
    status: OutboxStatus
    attempts: int
    occurred_at: datetime
    next_attempt_at: datetime
    claimed_until: datetime | None
    last_error: str | None
    sent_at: datetime | None
    failed_at: datetime | None
    body: str


def _unclaimed(now: datetime) -> ColumnElement[bool]:
    return or_(OutboxEvent.claimed_until.is_(None), OutboxEvent.claimed_until <= now)


class Outbox:
    """The outbox's bookkeeping, each step one short transaction (see the module docstring)."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        schedule: RetrySchedule = DEFAULT_RETRY_SCHEDULE,
    ) -> None:
        self._storage = Storage(session_factory)
        self.schedule = schedule

    # -- the sender ----------------------------------------------------------------------------

    def accounts_with_webhooks(self) -> frozenset[int]:
        """The accounts that have a webhook of their own."""
        with self._storage.read() as session:
            return frozenset(session.scalars(select(BillingWebhook.account_id)))

    def backlog(self) -> int:
        """How many events wait to be delivered (pending, whether due now or later)."""
        with self._storage.read() as session:
            count = session.scalar(
                select(func.count())
                .select_from(OutboxEvent)
                .where(OutboxEvent.status == OutboxStatus.PENDING.value)
            )
            return int(count or 0)

    def due(
        self, now: datetime, *, account_ids: Collection[int] | None = None, limit: int = 50
    ) -> list[int]:
        """Ids of pending events that may be attempted at ``now`` (oldest due first), of
        ``account_ids`` only when given."""
        query = (
            select(OutboxEvent.id)
            .where(
                OutboxEvent.status == OutboxStatus.PENDING.value,
                OutboxEvent.next_attempt_at <= now,
                _unclaimed(now),
            )
            .order_by(OutboxEvent.next_attempt_at, OutboxEvent.id)
            .limit(limit)
        )
        if account_ids is not None:
            if not account_ids:
                return []
            query = query.where(OutboxEvent.account_id.in_(sorted(account_ids)))
        with self._storage.read() as session:
            return list(session.scalars(query))

    def claim(self, event_id: int, now: datetime, lease: timedelta) -> Delivery | None:
        """Claim the next attempt at event ``event_id`` until ``now + lease``; ``None`` when
        it is not due, already claimed, or no longer pending."""
        with self._storage.write() as session:
            won = execute_update(
                session,
                update(OutboxEvent)
                .where(
                    OutboxEvent.id == event_id,
                    OutboxEvent.status == OutboxStatus.PENDING.value,
                    OutboxEvent.next_attempt_at <= now,
                    _unclaimed(now),
                )
                .values(claimed_until=now + lease, attempts=OutboxEvent.attempts + 1),
            )
            if won != 1:
                return None
            row = session.get_one(OutboxEvent, event_id, populate_existing=True)
            return Delivery(
                row.id, row.webhook_id, row.event_type, row.account_id, row.body, row.attempts
            )

    def delivered(self, delivery: Delivery, now: datetime) -> bool:
        """The receiver accepted it: ``pending`` → ``sent`` (``False`` when it was not
        pending any more)."""
        with self._storage.write() as session:
            moved = execute_update(
                session,
                update(OutboxEvent)
                .where(
                    OutboxEvent.id == delivery.event_id,
                    OutboxEvent.status == OutboxStatus.PENDING.value,
                )
                .values(status=OutboxStatus.SENT.value, sent_at=now, claimed_until=None),
            )
            return moved == 1

    def attempt_failed(self, delivery: Delivery, error: str, now: datetime) -> AttemptRecorded:
        """Attempt ``delivery.attempt`` failed with ``error`` (one line, no secret): due again
        after the schedule's wait, or ``failed`` when none is left."""
        wait = self.schedule.after(delivery.attempt)
        values: dict[str, object] = {"claimed_until": None, "last_error": error[:500]}
        if wait is None:
            values.update(status=OutboxStatus.FAILED.value, failed_at=now)
        else:
            values.update(next_attempt_at=now + wait)
        with self._storage.write() as session:
            moved = execute_update(
                session,
                update(OutboxEvent)
                .where(
                    OutboxEvent.id == delivery.event_id,
                    OutboxEvent.status == OutboxStatus.PENDING.value,
                    OutboxEvent.attempts == delivery.attempt,
                )
                .values(**values),
            )
        if moved != 1:
            return AttemptRecorded(recorded=False)
        return AttemptRecorded(recorded=True, retry_at=None if wait is None else now + wait)

    def failures_to_tell(self, limit: int = 20) -> list[int]:
        """Failed events whose owners have not been told yet."""
        with self._storage.read() as session:
            return list(
                session.scalars(
                    select(OutboxEvent.id)
                    .where(
                        OutboxEvent.status == OutboxStatus.FAILED.value,
                        OutboxEvent.owners_notified_at.is_(None),
                    )
                    .order_by(OutboxEvent.id)
                    .limit(limit)
                )
            )

    def claim_notice(self, event_id: int, now: datetime) -> FailureNotice | None:
        """Claim telling the owners that event ``event_id`` failed (once: ``None`` when
        another process claimed it, or it is not failed)."""
        with self._storage.write() as session:
            won = execute_update(
                session,
                update(OutboxEvent)
                .where(
                    OutboxEvent.id == event_id,
                    OutboxEvent.status == OutboxStatus.FAILED.value,
                    OutboxEvent.owners_notified_at.is_(None),
                )
                .values(owners_notified_at=now),
            )
            if won != 1:
                return None
            row = session.get_one(OutboxEvent, event_id, populate_existing=True)
            account = session.get_one(Account, row.account_id)
            owners = session.execute(
                select(Member.team_id, Member.user_id)
                .where(Member.account_id == row.account_id, Member.role == Role.OWNER.value)
                .order_by(Member.team_id, Member.user_id)
            ).tuples()
            return FailureNotice(
                row.id,
                row.webhook_id,
                row.event_type,
                account.name,
                account.display_name,
                row.request_id,
                row.attempts,
                row.last_error,
                tuple(owners),
            )

    # -- the operator --------------------------------------------------------------------------

    def entries(self, *, failed_only: bool = False, limit: int = 50) -> list[OutboxEntry]:
        """The most recent events, newest first (only failed ones with ``failed_only``)."""
        query = _entries().order_by(OutboxEvent.id.desc()).limit(limit)
        if failed_only:
            query = query.where(OutboxEvent.status == OutboxStatus.FAILED.value)
        with self._storage.read() as session:
            return [_entry(row, name) for row, name in session.execute(query).tuples()]

    def entry(self, reference: str) -> OutboxEntry:
        """The event with outbox id or ``webhook-id`` ``reference``; :class:`NotFound`."""
        with self._storage.read() as session:
            return _entry(*_find(session, reference))

    def retry(self, reference: str, now: datetime, *, actor: str = "cli") -> OutboxEntry:
        """Make a failed (or skipped, or waiting) event due now with a fresh schedule; the
        running ``seatbot serve`` sends it. :class:`InvalidInput` when it was delivered
        already or an attempt is in flight."""
        with self._storage.write() as session:
            row, _ = _find(session, reference)
            if row.status == OutboxStatus.SENT.value:
                sent = format_instant(row.sent_at, UTC_ZONE) if row.sent_at else "?"
                raise InvalidInput(
                    f"event {row.id} ({row.webhook_id}) was delivered at {sent}; nothing to retry"
                )
            if not _retry(session, row, now, actor):
                raise InvalidInput(
                    f"event {row.id} ({row.webhook_id}) is being delivered right now; "
                    "see `seatbot webhooks list`"
                )
        return self.entry(str(row.id))

    def retry_all_failed(self, now: datetime, *, actor: str = "cli") -> int:
        """:meth:`retry` every failed event; how many were made due."""
        with self._storage.write() as session:
            rows = session.scalars(
                select(OutboxEvent)
                .where(OutboxEvent.status == OutboxStatus.FAILED.value)
                .order_by(OutboxEvent.id)
            ).all()
            return sum(1 for row in rows if _retry(session, row, now, actor))


def _retry(session: Session, row: OutboxEvent, now: datetime, actor: str) -> bool:
    previous = (row.status, row.attempts)
    moved = execute_update(
        session,
        update(OutboxEvent)
        .where(
            OutboxEvent.id == row.id,
            OutboxEvent.status == row.status,
            OutboxEvent.attempts == row.attempts,
            OutboxEvent.status != OutboxStatus.SENT.value,
            _unclaimed(now),
        )
        .values(
            status=OutboxStatus.PENDING.value,
            attempts=0,
            next_attempt_at=now,
            claimed_until=None,
            failed_at=None,
            owners_notified_at=None,
        ),
    )
    if moved != 1:
        return False
    audit(
        session,
        row.account_id,
        actor,
        "webhook.retried",
        now,
        event_id=row.id,
        webhook_id=row.webhook_id,
        previous_status=previous[0],
        previous_attempts=previous[1],
    )
    return True


def _entries() -> Select[tuple[OutboxEvent, str]]:
    return select(OutboxEvent, Account.name).join(Account, Account.id == OutboxEvent.account_id)


def _find(session: Session, reference: str) -> tuple[OutboxEvent, str]:
    text = reference.strip()
    query = _entries()
    if text.isascii() and text.isdigit() and len(text) < 19:
        query = query.where(OutboxEvent.id == int(text))
    else:
        query = query.where(OutboxEvent.webhook_id == text)
    found = session.execute(query.execution_options(populate_existing=True)).tuples().first()
    if found is None:
        raise NotFound(
            f"no outbox event {reference!r} (an id or a webhook-id from `seatbot webhooks list`)"
        )
    return found


def _entry(row: OutboxEvent, account: str) -> OutboxEntry:
    return OutboxEntry(
        id=row.id,
        webhook_id=row.webhook_id,
        event_type=row.event_type,
        account=account,
        request_id=row.request_id,
        status=OutboxStatus(row.status),
        attempts=row.attempts,
        occurred_at=row.occurred_at,
        next_attempt_at=row.next_attempt_at,
        claimed_until=row.claimed_until,
        last_error=row.last_error,
        sent_at=row.sent_at,
        failed_at=row.failed_at,
        body=row.body,
    )
