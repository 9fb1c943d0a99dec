"""What the reports say, as plain values: a reconciliation run's findings with each product's
change since the previous run, the daily digest's facts and its 30-day trend, and the accounts
that want a digest and when. Built by :mod:`billing.reports.service`, rendered by the edge."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from billing.money import Money
from billing.periods import zone
from billing.products import Product
from billing.proration import LedgerKind
from billing.reports.rules import ProductChange, ProductReconciliation
from billing.requests import RequestStatus
from billing.seats.forecast import Forecast, forecast
from billing.views import AccountView, LedgerLineView, SeatChangeView, SubscriptionView

#: The job name of the daily digest in ``job_runs`` (its run key: ``account/local date``).
DIGEST_JOB = "digest"
#: The job name of a reconciliation report posted with ``seatbot reconcile --post``.
RECONCILE_JOB = "reconcile"
#: How many days of runs the trend covers, and how many it needs before a chart is drawn.
TREND_DAYS = 30
MIN_CHART_DAYS = 7


@dataclass(frozen=True)
class ReconcileTarget:
    """An account and the subscriptions whose platforms a reconciliation reads."""

    account: AccountView
    subscriptions: tuple[SubscriptionView, ...]


@dataclass(frozen=True)
class AccountFindings:
    """One account's products reconciled from the listings the edge read, not stored yet: the
    counts and the bounded list of unused seat holders only, so the listings can be let go."""

    target: ReconcileTarget
    products: tuple[ProductReconciliation, ...]


@dataclass(frozen=True)
class AccountReconciliation:
    """One stored run: every product's findings, and each one's change since the previous run
    (``previous_at``; ``None`` for the account's first run)."""

    account: AccountView
    run_id: int
    at: datetime
    local_date: date
    products: tuple[ProductReconciliation, ...]
    changes: Mapping[Product, ProductChange | None]
    previous_at: datetime | None

    @property
    def complete(self) -> bool:
        """Whether every product's platform was read."""
        return all(product.known for product in self.products)


@dataclass(frozen=True)
class TrendPoint:
    """A product's seats and users on one local day (the day's latest run)."""

    day: date
    product: Product
    seats: int
    users: int | None


@dataclass(frozen=True)
class DigestFacts:
    """Everything the daily digest says, gathered at ``at`` (aware UTC).

    ``since`` is when the previous digest was posted (``after_digest``), or a day before ``at``
    when none was: ``proration`` (charges and credits), ``applied`` (seat changes) are those
    since then; ``pending`` the requests waiting now; ``week_ago`` the latest run at least seven
    local days before this one; ``trend`` one point per product and local day over
    :data:`TREND_DAYS`; ``suggested`` the changes started from a digest (``source`` digest)
    applied in each product's current period. ``run.run_id`` is 0 for a preview (not stored).
    """

    account: AccountView
    at: datetime
    since: datetime
    run: AccountReconciliation
    subscriptions: tuple[SubscriptionView, ...]
    proration: tuple[LedgerLineView, ...]
    applied: tuple[SeatChangeView, ...]
    pending: tuple[SeatChangeView, ...]
    week_ago: AccountReconciliation | None
    trend: tuple[TrendPoint, ...]
    after_digest: bool = False
    suggested: tuple[SeatChangeView, ...] = ()

    def trend_change(self, product: Product, days: int) -> ProductChange | None:
        """How ``product``'s seats and users changed since the local day ``days`` before the
        run's (that day's latest run); ``None`` when no run that day saw the product."""
        day = self.run.local_date - timedelta(days=days)
        now = next((p for p in self.run.products if p.product is product), None)
        then = next((t for t in self.trend if t.day == day and t.product is product), None)
        if now is None or then is None:
            return None
        users = None if now.users is None or then.users is None else now.users.total - then.users
        return ProductChange(seats=now.seats - then.seats, users=users)

    @property
    def trend_days(self) -> int:
        """On how many distinct local days the trend has a run."""
        return len({point.day for point in self.trend})

    @property
    def has_chart(self) -> bool:
        return self.trend_days >= MIN_CHART_DAYS

    def charges(self) -> Money:
        """The proration charges since the previous digest (positive)."""
        return _sum(self.account.currency, self.proration, LedgerKind.CHARGE)

    def credits(self) -> Money:
        """The proration credits since the previous digest (negative or zero)."""
        return _sum(self.account.currency, self.proration, LedgerKind.CREDIT)

    @property
    def next_invoice(self) -> Forecast:
        """Each product's next renewal at today's seats; the requests waiting for approval
        beside it, not added in (:mod:`billing.seats.forecast`)."""
        waiting = [r for r in self.pending if r.status is RequestStatus.PENDING_APPROVAL]
        tz = zone(self.account.timezone)
        return forecast(self.account, self.subscriptions, waiting, self.at, tz)


@dataclass(frozen=True)
class DigestSchedule:
    """An account that wants a daily digest at ``digest_at`` (local wall-clock time), loaded at
    ``loaded_at`` (aware UTC; ``None`` when its audit trail does not say)."""

    account: AccountView
    digest_at: time
    loaded_at: datetime | None = None


def _sum(currency: str, lines: Sequence[LedgerLineView], kind: LedgerKind) -> Money:
    total = Money.zero(currency)
    for line in lines:
        if line.kind is kind and line.amount.currency == currency:
            total = total + line.amount
    return total


def parse_digest_time(text: str) -> time:
    """``"09:00"`` → 09:00; :class:`ValueError` unless it is ``HH:MM`` (24-hour clock)."""
    hours, sep, minutes = text.partition(":")
    if (
        sep != ":"
        or len(hours) != 2
        or len(minutes) != 2
        or not (hours.isascii() and hours.isdigit() and minutes.isascii() and minutes.isdigit())
        or int(hours) > 23
        or int(minutes) > 59
    ):
        raise ValueError(f"{text!r} is not a time of day (HH:MM, 24-hour clock, e.g. 09:00)")
    return time(int(hours), int(minutes))
