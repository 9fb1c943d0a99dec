"""Reconciliation runs and the daily digest's facts: the application layer of the reports.

The operator's scheduler and command line act through :class:`Reports`; it authorises nobody
(they act for the operator), and each account's reports go only to that account's own channel
(the posting edge reads ``AccountView.channel_id`` of the account it reports on, nothing else).

A reconciliation is done in two steps, so that no platform call happens inside a transaction:
:meth:`Reports.targets` says what to read (each account's subscriptions), the edge reads the
platforms (:class:`billing.users.UserListing`: complete, or unknown with a reason), and
:meth:`Reports.record` stores the run with one row per product and returns the findings with
the change since the account's previous run. Reading a stored run (:meth:`Reports.latest`,
:meth:`Reports.digest`) needs no platform call.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from billing.errors import NotFound
from billing.job_claims import JobClaims
from billing.models import (
    Account,
    LedgerEntry,
    LedgerKind,
    ProductReadStatus,
    ReconciliationProduct,
    ReconciliationRun,
    SeatChangeRequest,
    Subscription,
)
from billing.money import Money
from billing.periods import Interval, local_date, period_at, require_aware, zone
from billing.products import Product
from billing.reconciliation import (
    IdleUser,
    ProductChange,
    ProductReconciliation,
    UserCounts,
    change_between,
    reconcile_product,
)
from billing.repository import Storage, account_view, ledger_view, request_view, subscription_view
from billing.requests import RequestStatus
from billing.users import UserListing, UserStatus
from billing.views import AccountView, LedgerLineView, SeatChangeView, SubscriptionView

#: The job name of the daily digest in ``job_runs`` (its run key: ``account/local date``).
DIGEST_JOB = "digest"
#: The job name of a reconciliation report posted with ``seatbot reconcile --post``.
RECONCILE_JOB = "reconcile"
#: How many days of runs the trend covers, and how many it needs before a chart is drawn.
TREND_DAYS = 30
MIN_CHART_DAYS = 7
#: Requests waiting for someone: a manager's decision, or to be applied.
PENDING_STATUSES = (RequestStatus.PENDING_APPROVAL.value, RequestStatus.APPROVED.value)


@dataclass(frozen=True)
class ReconcileTarget:
    """An account and the subscriptions whose platforms a reconciliation reads."""

    account: AccountView
    subscriptions: tuple[SubscriptionView, ...]


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

    ``since`` is when the previous digest was posted (a day before ``at`` when there was none):
    ``proration`` (charges and credits), ``applied`` (seat changes) are those since then;
    ``pending`` the requests waiting now; ``week_ago`` the latest run at least seven local days
    before this one; ``trend`` one point per product and local day over :data:`TREND_DAYS`.
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


@dataclass(frozen=True)
class DigestSchedule:
    """An account that wants a daily digest at ``digest_at`` (local wall-clock time)."""

    account: AccountView
    digest_at: time


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


class Reports:
    """Reconciliation runs and digests for the operator (see the module docstring)."""

    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self._storage = Storage(session_factory)
        self._claims = JobClaims(session_factory)

    # -- what to read ---------------------------------------------------------------------------

    def targets(self, account_name: str | None, at: datetime) -> list[ReconcileTarget]:
        """Every account (by name), or only ``account_name`` (:class:`NotFound` if unknown),
        with its subscriptions in the billing period containing ``at``."""
        require_aware(at)
        with self._storage.read() as session:
            query = select(Account).order_by(Account.name)
            if account_name is not None:
                query = query.where(Account.name == account_name)
            accounts = list(session.scalars(query))
            if account_name is not None and not accounts:
                raise NotFound(f"no account named {account_name!r} (see `seatbot accounts`)")
            by_account: dict[int, list[Subscription]] = defaultdict(list)
            ids = [account.id for account in accounts]
            for chunk in _chunks(ids):
                rows = session.scalars(
                    select(Subscription)
                    .where(Subscription.account_id.in_(chunk))
                    .order_by(Subscription.product)
                )
                for row in rows:
                    by_account[row.account_id].append(row)
            targets = []
            for account in accounts:
                tz = zone(account.timezone)
                views = tuple(
                    subscription_view(row, period_at(row.anchor, Interval(row.interval), at, tz))
                    for row in by_account[account.id]
                )
                targets.append(ReconcileTarget(account_view(account), views))
            return targets

    def digest_schedule(self) -> list[DigestSchedule]:
        """The accounts with a digest time and a channel to post to, by name."""
        with self._storage.read() as session:
            rows = session.scalars(
                select(Account)
                .where(Account.digest_at.is_not(None), Account.channel_id.is_not(None))
                .order_by(Account.name)
            )
            schedule = []
            for row in rows:
                try:
                    at = parse_digest_time(row.digest_at or "")
                except ValueError:
                    continue  # the loader refuses such values; a hand-edited row is ignored
                schedule.append(DigestSchedule(account_view(row), at))
            return schedule

    # -- storing runs ---------------------------------------------------------------------------

    def record(
        self,
        results: Sequence[tuple[ReconcileTarget, Mapping[Product, UserListing]]],
        at: datetime,
        *,
        source: str = "cli",
    ) -> list[AccountReconciliation]:
        """Store one run per account (one transaction for all of them) from the listings the
        edge read at ``at``; a product without a listing is unknown. Returns the findings, in
        the order given, each with its change since the account's previous run."""
        require_aware(at)
        with self._storage.write() as session:
            previous = _latest_runs(session, [target.account.id for target, _ in results])
            findings: list[tuple[ReconcileTarget, ReconciliationRun, list[Any]]] = []
            for target, listings in results:
                tz = zone(target.account.timezone)
                run = ReconciliationRun(
                    account_id=target.account.id,
                    at=at,
                    local_date=local_date(at, tz),
                    source=source,
                )
                session.add(run)
                products = [
                    reconcile_product(
                        s.product,
                        seats=s.seats,
                        unit_price=s.unit_price,
                        interval=s.interval,
                        listing=listings.get(s.product)
                        or UserListing.unknown(
                            f"Seatbot did not read the users on {s.product.label}."
                        ),
                        at=at,
                    )
                    for s in target.subscriptions
                ]
                findings.append((target, run, products))
            session.flush()
            rows = [
                _product_row(run.id, product)
                for _, run, products in findings
                for product in products
            ]
            session.add_all(rows)
            session.flush()
            return [
                _account_reconciliation(
                    target.account, run, tuple(products), previous.get(target.account.id)
                )
                for target, run, products in findings
            ]

    # -- reading runs ---------------------------------------------------------------------------

    def latest(self, account_id: int) -> AccountReconciliation | None:
        """The account's latest stored run (no platform call), or ``None``."""
        with self._storage.read() as session:
            account = session.get(Account, account_id)
            if account is None:
                raise NotFound("That account does not exist.")
            run = session.scalars(
                select(ReconciliationRun)
                .where(ReconciliationRun.account_id == account_id)
                .order_by(ReconciliationRun.at.desc(), ReconciliationRun.id.desc())
                .limit(1)
            ).first()
            if run is None:
                return None
            return _stored(session, account, run)

    def digest(self, account_id: int, at: datetime) -> DigestFacts:
        """What the digest says at ``at``, from the account's latest stored run (record one
        first; :class:`NotFound` when there is none) and the ledger and requests."""
        require_aware(at)
        previous = self._claims.last_succeeded(DIGEST_JOB, account_id, before=at)
        since = previous.finished_at if previous and previous.finished_at else at - timedelta(1)
        with self._storage.read() as session:
            account = session.get(Account, account_id)
            if account is None:
                raise NotFound("That account does not exist.")
            run = session.scalars(
                select(ReconciliationRun)
                .where(ReconciliationRun.account_id == account_id, ReconciliationRun.at <= at)
                .order_by(ReconciliationRun.at.desc(), ReconciliationRun.id.desc())
                .limit(1)
            ).first()
            if run is None:
                raise NotFound(f"{account.display_name} has not been reconciled yet.")
            tz = zone(account.timezone)
            subscriptions = tuple(
                subscription_view(row, period_at(row.anchor, Interval(row.interval), at, tz))
                for row in session.scalars(
                    select(Subscription)
                    .where(Subscription.account_id == account_id)
                    .order_by(Subscription.product)
                )
            )
            week_ago_run = session.scalars(
                select(ReconciliationRun)
                .where(
                    ReconciliationRun.account_id == account_id,
                    ReconciliationRun.local_date <= run.local_date - timedelta(days=7),
                )
                .order_by(ReconciliationRun.at.desc(), ReconciliationRun.id.desc())
                .limit(1)
            ).first()
            return DigestFacts(
                account=account_view(account),
                at=at,
                since=since,
                run=_stored(session, account, run),
                subscriptions=subscriptions,
                proration=tuple(_proration_since(session, account_id, since, at)),
                applied=tuple(_applied_since(session, account_id, since, at)),
                pending=tuple(_pending(session, account_id)),
                week_ago=None if week_ago_run is None else _stored(session, account, week_ago_run),
                trend=tuple(_trend(session, account_id, run.local_date)),
            )


# -- rows and views -----------------------------------------------------------------------------


def _chunks(ids: Sequence[int], size: int = 500) -> list[Sequence[int]]:
    return [ids[i : i + size] for i in range(0, len(ids), size)]


def _product_row(run_id: int, product: ProductReconciliation) -> ReconciliationProduct:
    users = product.users
    return ReconciliationProduct(
        run_id=run_id,
        product=product.product.value,
        status=product.status.value,
        reason=product.reason,
        seats=product.seats,
        unit_price_minor=product.unit_price.minor,
        currency=product.unit_price.currency,
        interval=product.interval.value,
        users_total=None if users is None else users.total,
        users_active=None if users is None else users.active,
        users_inactive=None if users is None else users.inactive,
        users_idle=None if users is None else users.idle,
        # Compact rows (name, email, extension, status, last active or null, idle): a run keeps
        # up to LISTED_IDLE_USERS of them per product.
        idle_users=json.dumps(
            [
                [
                    u.name,
                    u.email,
                    u.extension,
                    u.status.value,
                    None if u.last_active_at is None else u.last_active_at.isoformat(),
                    u.idle,
                ]
                for u in product.idle_users
            ],
            separators=(",", ":"),
            ensure_ascii=False,
        ),
    )


def _from_row(row: ReconciliationProduct) -> ProductReconciliation:
    users = None
    if row.users_total is not None:
        users = UserCounts(
            total=row.users_total,
            active=row.users_active or 0,
            inactive=row.users_inactive or 0,
            idle=row.users_idle or 0,
        )
    idle = tuple(
        IdleUser(
            name=str(name),
            email=str(email),
            extension=int(extension),
            status=UserStatus(status),
            last_active_at=None if last_active is None else datetime.fromisoformat(last_active),
            idle=bool(idle_flag),
        )
        for name, email, extension, status, last_active, idle_flag in json.loads(
            row.idle_users or "[]"
        )
    )
    return ProductReconciliation(
        product=Product(row.product),
        seats=row.seats,
        unit_price=Money(row.unit_price_minor, row.currency),
        interval=Interval(row.interval),
        status=ProductReadStatus(row.status),
        reason=row.reason,
        users=users,
        idle_users=idle,
    )


def _latest_runs(
    session: Session, account_ids: Sequence[int]
) -> dict[int, tuple[ReconciliationRun, tuple[ProductReconciliation, ...]]]:
    """Each account's latest stored run with its products (for "change since")."""
    latest: dict[int, tuple[ReconciliationRun, tuple[ProductReconciliation, ...]]] = {}
    for chunk in _chunks(account_ids):
        newest = (
            select(func.max(ReconciliationRun.id))
            .where(ReconciliationRun.account_id.in_(chunk))
            .group_by(ReconciliationRun.account_id)
        )
        runs = {
            run.id: run
            for run in session.scalars(
                select(ReconciliationRun).where(ReconciliationRun.id.in_(newest))
            )
        }
        if not runs:
            continue
        products: dict[int, list[ProductReconciliation]] = defaultdict(list)
        for row in session.scalars(
            select(ReconciliationProduct).where(ReconciliationProduct.run_id.in_(list(runs)))
        ):
            products[row.run_id].append(_from_row(row))
        for run_id, run in runs.items():
            latest[run.account_id] = (run, tuple(products[run_id]))
    return latest


def _account_reconciliation(
    account: AccountView,
    run: ReconciliationRun,
    products: tuple[ProductReconciliation, ...],
    previous: tuple[ReconciliationRun, tuple[ProductReconciliation, ...]] | None,
) -> AccountReconciliation:
    before = {} if previous is None else {p.product: p for p in previous[1]}
    return AccountReconciliation(
        account=account,
        run_id=run.id,
        at=run.at,
        local_date=run.local_date,
        products=products,
        changes={p.product: change_between(p, before.get(p.product)) for p in products},
        previous_at=None if previous is None else previous[0].at,
    )


def _stored(session: Session, account: Account, run: ReconciliationRun) -> AccountReconciliation:
    products = tuple(
        _from_row(row)
        for row in session.scalars(
            select(ReconciliationProduct)
            .where(ReconciliationProduct.run_id == run.id)
            .order_by(ReconciliationProduct.product)
        )
    )
    previous_run = session.scalars(
        select(ReconciliationRun)
        .where(
            ReconciliationRun.account_id == account.id,
            (ReconciliationRun.at < run.at)
            | ((ReconciliationRun.at == run.at) & (ReconciliationRun.id < run.id)),
        )
        .order_by(ReconciliationRun.at.desc(), ReconciliationRun.id.desc())
        .limit(1)
    ).first()
    previous = None
    if previous_run is not None:
        previous = (
            previous_run,
            tuple(
                _from_row(row)
                for row in session.scalars(
                    select(ReconciliationProduct).where(
                        ReconciliationProduct.run_id == previous_run.id
                    )
                )
            ),
        )
    return _account_reconciliation(account_view(account), run, products, previous)


def _proration_since(
    session: Session, account_id: int, since: datetime, at: datetime
) -> list[LedgerLineView]:
    rows = session.execute(
        select(LedgerEntry, Subscription)
        .join(Subscription, LedgerEntry.subscription_id == Subscription.id)
        .where(
            Subscription.account_id == account_id,
            LedgerEntry.kind.in_([LedgerKind.CHARGE.value, LedgerKind.CREDIT.value]),
            LedgerEntry.created_at >= since,
            LedgerEntry.created_at <= at,
        )
        .order_by(LedgerEntry.id)
    ).tuples()
    return [ledger_view(entry, subscription) for entry, subscription in rows]


def _applied_since(
    session: Session, account_id: int, since: datetime, at: datetime
) -> list[SeatChangeView]:
    rows = session.execute(
        select(SeatChangeRequest, Subscription)
        .join(Subscription, SeatChangeRequest.subscription_id == Subscription.id)
        .where(
            Subscription.account_id == account_id,
            SeatChangeRequest.status == RequestStatus.APPLIED.value,
            SeatChangeRequest.applied_at >= since,
            SeatChangeRequest.applied_at <= at,
        )
        .order_by(SeatChangeRequest.applied_at, SeatChangeRequest.id)
    ).tuples()
    return [request_view(request, subscription) for request, subscription in rows]


def _pending(session: Session, account_id: int) -> list[SeatChangeView]:
    rows = session.execute(
        select(SeatChangeRequest, Subscription)
        .join(Subscription, SeatChangeRequest.subscription_id == Subscription.id)
        .where(
            Subscription.account_id == account_id,
            SeatChangeRequest.status.in_(PENDING_STATUSES),
        )
        .order_by(SeatChangeRequest.created_at, SeatChangeRequest.id)
    ).tuples()
    return [request_view(request, subscription) for request, subscription in rows]


def _trend(session: Session, account_id: int, last_day: date) -> list[TrendPoint]:
    """One point per product per local day over the :data:`TREND_DAYS` days ending
    ``last_day``: the day's latest run."""
    first_day = last_day - timedelta(days=TREND_DAYS - 1)
    newest_of_day = (
        select(func.max(ReconciliationRun.id))
        .where(
            ReconciliationRun.account_id == account_id,
            ReconciliationRun.local_date >= first_day,
            ReconciliationRun.local_date <= last_day,
        )
        .group_by(ReconciliationRun.local_date)
    )
    rows = session.execute(
        select(ReconciliationRun.local_date, ReconciliationProduct)
        .join(ReconciliationProduct, ReconciliationProduct.run_id == ReconciliationRun.id)
        .where(ReconciliationRun.id.in_(newest_of_day))
        .order_by(ReconciliationRun.local_date, ReconciliationProduct.product)
    ).tuples()
    return [TrendPoint(day, Product(row.product), row.seats, row.users_total) for day, row in rows]
