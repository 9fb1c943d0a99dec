"""How reconciliation runs are stored and read back: one row per product (idle users as compact
JSON) and each run's change since the account's previous one; and the digest's reads of the
ledger, the seat-change requests and the trend. Functions over the caller's session, used by
:class:`billing.reports.service.Reports` inside its transactions."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    select,
)
from sqlalchemy.orm import Mapped, Session, defer, mapped_column

from billing.models import (
    Account,
    Base,
    LedgerEntry,
    SeatChangeRequest,
    Subscription,
    UTCDateTime,
    _in_check,
)
from billing.money import Money
from billing.periods import Interval
from billing.products import Product
from billing.proration import LedgerKind
from billing.reports.facts import TREND_DAYS, AccountReconciliation, TrendPoint
from billing.reports.rules import (
    LISTED_IDLE_USERS,
    IdleUser,
    ProductReadStatus,
    ProductReconciliation,
    UserCounts,
    change_between,
)
from billing.requests import RequestSource, RequestStatus
from billing.row_views import account_view, ledger_view, request_view
from billing.users import UserStatus
from billing.views import AccountView, LedgerLineView, SeatChangeView


class ReconciliationRun(Base):
    """One reconciliation of an account: when it ran, and the account's local date then."""

    __tablename__ = "reconciliation_runs"
    __table_args__ = (Index(None, "account_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    local_date: Mapped[date] = mapped_column(Date)
    source: Mapped[str] = mapped_column(String(16))  # cli | schedule | demo | benchmark


class ReconciliationProduct(Base):
    """What one run found for one product: the billed terms then, and the platform's users
    (``users_*`` are NULL when the platform could not be read: unknown, never zero).

    ``users_idle`` counts users whose last activity the platform reports as 30 or more days
    before the run; ``idle_users`` is JSON: the users who are inactive or idle (they hold seats
    someone could release), at most :data:`billing.reports.rules.LISTED_IDLE_USERS`."""

    __tablename__ = "reconciliation_products"
    __table_args__ = (
        UniqueConstraint("run_id", "product"),
        CheckConstraint(_in_check("product", Product), name="product"),
        CheckConstraint(_in_check("status", ProductReadStatus), name="status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(
        ForeignKey("reconciliation_runs.id", ondelete="CASCADE"), index=True
    )
    product: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    seats: Mapped[int] = mapped_column(Integer)
    unit_price_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    interval: Mapped[str] = mapped_column(String(16))
    users_total: Mapped[int | None] = mapped_column(Integer)
    users_active: Mapped[int | None] = mapped_column(Integer)
    users_inactive: Mapped[int | None] = mapped_column(Integer)
    users_idle: Mapped[int | None] = mapped_column(Integer)
    users_not_using: Mapped[int | None] = mapped_column(Integer)  # NULL in runs before 0010
    idle_users: Mapped[str] = mapped_column(Text, default="[]")  # compact JSON rows


#: Requests waiting for someone: a manager's decision, or to be applied.
PENDING_STATUSES = (RequestStatus.PENDING_APPROVAL.value, RequestStatus.APPROVED.value)


def id_chunks(ids: Sequence[int], size: int = 500) -> list[Sequence[int]]:
    """``ids`` in slices of at most ``size`` (bounds the parameters of one ``IN`` clause)."""
    return [ids[i : i + size] for i in range(0, len(ids), size)]


def product_row(run_id: int, product: ProductReconciliation) -> ReconciliationProduct:
    """The row that stores one product's findings in run ``run_id``."""
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
        users_not_using=None if users is None else users.not_using,
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


def _from_row(row: ReconciliationProduct, *, idle_users: bool = True) -> ProductReconciliation:
    """The stored product; without its list of unused seat holders unless ``idle_users``."""
    listed: list[list[Any]] = json.loads(row.idle_users or "[]") if idle_users else []
    users = None
    if row.users_total is not None:
        inactive, idle_count = row.users_inactive or 0, row.users_idle or 0
        not_using = row.users_not_using
        if not_using is None:  # a run stored before the count was kept: its list, if whole
            whole = idle_users and len(listed) < LISTED_IDLE_USERS
            not_using = len(listed) if whole else max(inactive, idle_count)
        users = UserCounts(
            total=row.users_total,
            active=row.users_active or 0,
            inactive=inactive,
            idle=idle_count,
            not_using=not_using,
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
        for name, email, extension, status, last_active, idle_flag in listed
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


def latest_runs(
    session: Session, account_ids: Sequence[int]
) -> dict[int, tuple[ReconciliationRun, tuple[ProductReconciliation, ...]]]:
    """Each account's latest stored run with its products, without their lists of unused seat
    holders (for "change since", which needs only the counts)."""
    latest: dict[int, tuple[ReconciliationRun, tuple[ProductReconciliation, ...]]] = {}
    for chunk in id_chunks(account_ids):
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
            select(ReconciliationProduct)
            .options(defer(ReconciliationProduct.idle_users))
            .where(ReconciliationProduct.run_id.in_(list(runs)))
        ):
            products[row.run_id].append(_from_row(row, idle_users=False))
        for run_id, run in runs.items():
            latest[run.account_id] = (run, tuple(products[run_id]))
    return latest


def account_reconciliation(
    account: AccountView,
    run: ReconciliationRun,
    products: tuple[ProductReconciliation, ...],
    previous: tuple[ReconciliationRun, tuple[ProductReconciliation, ...]] | None,
) -> AccountReconciliation:
    """``run`` with ``products``, each with its change since ``previous`` (the account's run
    before it with its products, or ``None``)."""
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


def stored_run(session: Session, account: Account, run: ReconciliationRun) -> AccountReconciliation:
    """The stored ``run`` of ``account`` with its change since the run before it."""
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
    return account_reconciliation(account_view(account), run, products, previous)


def proration_since(
    session: Session, account_id: int, since: datetime, at: datetime
) -> list[LedgerLineView]:
    """The account's proration charges and credits written from ``since`` to ``at``."""
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


def applied_since(
    session: Session,
    account_id: int,
    since: datetime,
    at: datetime,
    *,
    source: RequestSource | None = None,
) -> list[SeatChangeView]:
    """The account's seat changes applied from ``since`` to ``at`` (only those started from
    ``source``, when given), in the order applied."""
    query = (
        select(SeatChangeRequest, Subscription)
        .join(Subscription, SeatChangeRequest.subscription_id == Subscription.id)
        .where(
            Subscription.account_id == account_id,
            SeatChangeRequest.status == RequestStatus.APPLIED.value,
            SeatChangeRequest.applied_at >= since,
            SeatChangeRequest.applied_at <= at,
        )
        .order_by(SeatChangeRequest.applied_at, SeatChangeRequest.id)
    )
    if source is not None:
        query = query.where(SeatChangeRequest.source == source.value)
    rows = session.execute(query).tuples()
    return [request_view(request, subscription) for request, subscription in rows]


def pending_changes(session: Session, account_id: int) -> list[SeatChangeView]:
    """The account's requests waiting now (for a manager's decision, or to be applied)."""
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


def trend_points(session: Session, account_id: int, last_day: date) -> list[TrendPoint]:
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
