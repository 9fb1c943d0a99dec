"""What the billing service hands out: frozen dataclasses, never ORM objects."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from billing.money import Money
from billing.periods import Interval, Period
from billing.products import Product
from billing.proration import (
    DecreasePolicy,
    LedgerKind,
    ProrationLine,
    ProrationRule,
)
from billing.requests import RequestStatus


@dataclass(frozen=True)
class AccountView:
    """A customer account. ``timezone`` is an IANA name; ``currency`` an ISO 4217 code."""

    id: int
    name: str
    display_name: str
    currency: str
    timezone: str
    team_id: str
    channel_id: str | None


@dataclass(frozen=True)
class SubscriptionView:
    """A subscription as it stands; ``period`` is the billing period containing the instant the
    view was asked for (aware UTC bounds), ``unit_price`` one seat for one full period."""

    id: int
    account_id: int
    product: Product
    seats: int
    unit_price: Money
    interval: Interval
    anchor: date
    rule: ProrationRule
    decrease_policy: DecreasePolicy
    version: int
    period: Period
    started_at: datetime
    initial_seats: int


@dataclass(frozen=True)
class SeatChangeView:
    """A seat-change request with the quote stored for it.

    ``lines`` and ``net`` are the amounts (minor units inside :class:`Money`) that applying the
    request writes to the ledger; ``effective_at`` is the instant they were prorated at and
    ``quoted_at`` when the quote was made (both aware UTC; equal under the current policy).
    """

    id: int
    account_id: int
    subscription_id: int
    product: Product
    old_seats: int
    new_seats: int
    reason: str
    status: RequestStatus
    revision: int
    idempotency_key: str
    requested_by_team: str
    requested_by_user: str
    quoted_at: datetime
    effective_at: datetime
    period: Period
    quoted_version: int
    fraction: str
    lines: tuple[ProrationLine, ...]
    net: Money
    decided_by_team: str | None
    decided_by_user: str | None
    decided_at: datetime | None
    applied_at: datetime | None
    slack_channel_id: str | None
    slack_message_ts: str | None
    created_at: datetime
    updated_at: datetime
    # Approval: when it was submitted and to whom ((team, user) pairs), when escalated, and why
    # it was denied.
    submitted_at: datetime | None = None
    approvers: tuple[tuple[str, str], ...] = ()
    escalated_at: datetime | None = None
    decision_reason: str | None = None

    @property
    def is_decrease(self) -> bool:
        return self.new_seats < self.old_seats


@dataclass(frozen=True)
class LedgerLineView:
    """One ledger entry: a signed amount (credits negative) for the period it covers."""

    id: int
    subscription_id: int
    product: Product
    request_id: int | None
    kind: LedgerKind
    quantity: int
    amount: Money
    period_start: datetime
    period_end: datetime
    created_at: datetime
    idempotency_key: str


@dataclass(frozen=True)
class AuditView:
    """One audit event: who (``slack:T…:U…``, ``cli:load``, ``system``) did what, when (aware
    UTC), to which account, with its details (never secrets)."""

    id: int
    account: str
    actor: str
    action: str
    at: datetime
    details: dict[str, object]
