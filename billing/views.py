"""What the billing service hands out: frozen dataclasses, never ORM objects."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from fractions import Fraction

from billing.money import Money
from billing.periods import Interval, Period
from billing.products import Product
from billing.proration import (
    DecreasePolicy,
    LedgerKind,
    Proration,
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
    ``unit_price``, ``interval`` and ``rule`` are the subscription's (one seat for one full
    period), so the change can be told as what it does to the bill (:attr:`effect`).
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
    unit_price: Money
    interval: Interval
    rule: ProrationRule
    # Approval: when it was submitted and to whom ((team, user) pairs), when escalated, and why
    # it was denied.
    submitted_at: datetime | None = None
    approvers: tuple[tuple[str, str], ...] = ()
    escalated_at: datetime | None = None
    decision_reason: str | None = None
    #: Where the change was started (``"digest"``), ``None`` for ``/seats`` and the form.
    source: str | None = None

    @property
    def is_decrease(self) -> bool:
        return self.new_seats < self.old_seats

    @property
    def effect(self) -> BillEffect:
        """What this change does to the bill (the stored quote's exact figures)."""
        return BillEffect(
            old_seats=self.old_seats,
            new_seats=self.new_seats,
            unit_price=self.unit_price,
            interval=self.interval,
            rule=self.rule,
            period=self.period,
            at=self.effective_at,
            fraction=Fraction(self.fraction),
            lines=self.lines,
            net=self.net,
        )


@dataclass(frozen=True, slots=True)
class BillEffect:
    """A seat change as the owner hears it: what happens to the bill now (``net``, the quote's
    exact lines, prorated at ``at`` for the ``fraction`` of ``period`` left) and what each
    period costs from the next one on (``old_cost`` → ``new_cost``, ``interval``)."""

    old_seats: int
    new_seats: int
    unit_price: Money
    interval: Interval
    rule: ProrationRule
    period: Period
    at: datetime
    fraction: Fraction
    lines: tuple[ProrationLine, ...]
    net: Money

    @property
    def old_cost(self) -> Money:
        """One full period at the old number of seats."""
        return self.unit_price.times(self.old_seats)

    @property
    def new_cost(self) -> Money:
        """One full period at the new number of seats."""
        return self.unit_price.times(self.new_seats)

    @property
    def difference(self) -> Money:
        """``new_cost - old_cost``: negative when the change saves money each period."""
        return self.new_cost - self.old_cost

    @property
    def is_decrease(self) -> bool:
        return self.new_seats < self.old_seats

    @property
    def unbilled_now(self) -> bool:
        """Nothing is billed or credited now (no proration lines): a decrease keeps the paid
        seats until the period ends, an increase is billed from the next period."""
        return not self.lines


def quote_effect(proration: Proration, interval: Interval) -> BillEffect:
    """:class:`BillEffect` of a quote not stored yet (the form's preview)."""
    return BillEffect(
        old_seats=proration.old_quantity,
        new_seats=proration.new_quantity,
        unit_price=proration.unit_price,
        interval=interval,
        rule=proration.rule,
        period=proration.period,
        at=proration.at,
        fraction=proration.fraction,
        lines=proration.lines,
        net=proration.net,
    )


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
