"""The operator's view of billing: accounts, subscriptions, quotes, the ledger and renewal.

The command line (``seatbot accounts|quote|ledger``), the demo and the tests read through
:class:`SeatService`; it acts for the operator, so it authorises nobody. Seat changes made for a
person go through :class:`billing.seats.service.SeatChanges`, which authorises every step.
Synchronous code over short transactions; time is always passed in. It hands out frozen views
(:mod:`billing.views`), never ORM objects.
"""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from billing.access import MemberView, Role
from billing.books.rules import CheckReport, check_books
from billing.books.store import read_books
from billing.models import Account, AuditEvent, LedgerEntry, Member, Subscription
from billing.periods import Interval, period_at, zone
from billing.row_views import (
    account_view,
    ledger_view,
    request_view,
    stored_period,
    subscription_view,
)
from billing.scope import current_views
from billing.seats.decrease import check_seat_change
from billing.seats.forecast import Forecast
from billing.seats.outcomes import Quote, UsersNeeded, UsersSource
from billing.seats.reads import forecast_of
from billing.seats.renewal import renew_due
from billing.seats.rules import check_quote_instant, check_seat_count, quote_change
from billing.storage import (
    Storage,
    get_account,
    get_subscription,
    load_request,
    recent_requests,
)
from billing.views import (
    AccountView,
    AuditView,
    LedgerLineView,
    SeatChangeView,
    SubscriptionView,
)

__all__ = [
    "AccountView",
    "LedgerLineView",
    "MemberView",
    "Quote",
    "SeatChangeView",
    "SeatService",
    "SubscriptionView",
]


class SeatService:
    """Reads for the operator, and renewal. ``session_factory`` makes sessions on an engine
    from :func:`bot.runtime.db.make_engine`."""

    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self._storage = Storage(session_factory)

    # -- accounts and members ------------------------------------------------------------------

    def all_accounts(self) -> list[AccountView]:
        """Every account, by name."""
        with self._storage.read() as session:
            rows = session.scalars(select(Account).order_by(Account.name))
            return [account_view(row) for row in rows]

    def account_by_name(self, name: str) -> AccountView | None:
        """The account with this slug name, if any."""
        with self._storage.read() as session:
            row = session.scalars(select(Account).where(Account.name == name)).one_or_none()
            return account_view(row) if row is not None else None

    def accounts_for_team(self, team_id: str) -> list[AccountView]:
        """The accounts of one Slack workspace, by name."""
        with self._storage.read() as session:
            rows = session.scalars(
                select(Account).where(Account.team_id == team_id).order_by(Account.name)
            )
            return [account_view(row) for row in rows]

    def members_with_role(self, account_id: int, role: Role) -> list[MemberView]:
        """The account's members holding ``role``, ordered by Slack ids."""
        with self._storage.read() as session:
            rows = session.scalars(
                select(Member)
                .where(Member.account_id == account_id, Member.role == role.value)
                .order_by(Member.team_id, Member.user_id)
            )
            return [
                MemberView(row.account_id, row.team_id, row.user_id, Role(row.role)) for row in rows
            ]

    # -- subscriptions and quotes --------------------------------------------------------------

    def subscriptions(self, account_id: int, at: datetime) -> list[SubscriptionView]:
        """The account's subscriptions, each with the billing period containing ``at``."""
        _require_aware(at)
        with self._storage.read() as session:
            return current_views(session, get_account(session, account_id), at)

    def forecast(self, account_id: int, at: datetime) -> Forecast:
        """The account's next invoice at ``at``: each product's renewal at today's seats, and
        the requests waiting for approval beside it (``seatbot forecast``)."""
        _require_aware(at)
        with self._storage.read() as session:
            return forecast_of(session, get_account(session, account_id), at)

    def quote(
        self,
        subscription_id: int,
        new_seats: int,
        at: datetime,
        *,
        now: datetime | None = None,
        users: UsersSource | None = None,
    ) -> Quote:
        """Preview changing the subscription to ``new_seats`` at ``at`` (nothing is stored).

        ``now`` (default ``at``) is the present: ``at`` must fall between the subscription's
        start and the end of the billing period running ``now`` (:class:`QuoteUnavailable`).
        Raises :class:`InvalidSeatCount` for a negative, too large or unchanged count. A
        decrease is checked against the platform's users when ``users`` is given (asked once,
        after the read), with the rule Slack's preview decides with.
        """
        _require_aware(at)
        present = now or at
        _require_aware(present)
        with self._storage.read() as session:
            row = get_subscription(session, subscription_id)
            account = get_account(session, row.account_id)
            tz = zone(account.timezone)
            current = period_at(row.anchor, Interval(row.interval), present, tz)
            check_quote_instant(at, started_at=row.started_at, current=current, tz=tz)
            view = subscription_view(row, period_at(row.anchor, Interval(row.interval), at, tz))
            check_seat_count(new_seats, row.seats, view.product)
            proration = quote_change(view, new_seats, at, view.period, tz)
        is_decrease = new_seats < view.seats
        check = None
        if is_decrease and users is not None:
            listing = users(UsersNeeded(view.account_id, view.product))
            check = check_seat_change(view.seats, new_seats, listing)
        return Quote(view, proration, is_decrease, check)

    # -- requests and the ledger ---------------------------------------------------------------

    def get_request(self, request_id: int) -> SeatChangeView:
        """The request, or :class:`NotFound`."""
        with self._storage.read() as session:
            loaded = load_request(session, request_id)
            return request_view(loaded.request, loaded.subscription)

    def history(self, account_id: int, limit: int = 10) -> list[SeatChangeView]:
        """The account's most recent requests, newest first."""
        with self._storage.read() as session:
            return [request_view(r, s) for r, s in recent_requests(session, account_id, limit)]

    def ledger(self, account_id: int) -> list[LedgerLineView]:
        """Every ledger entry of the account's subscriptions, in the order written."""
        with self._storage.read() as session:
            rows = session.execute(
                select(LedgerEntry, Subscription)
                .join(Subscription, LedgerEntry.subscription_id == Subscription.id)
                .where(Subscription.account_id == account_id)
                .order_by(LedgerEntry.id)
            ).tuples()
            return [ledger_view(entry, subscription) for entry, subscription in rows]

    def renew(self, subscription_id: int, at: datetime) -> list[LedgerLineView]:
        """Advance the subscription's stored period up to ``at``; return the renewal entries
        written now (none when it is current or another process already renewed it)."""
        _require_aware(at)
        with self._storage.write() as session:
            row = get_subscription(session, subscription_id)
            account = get_account(session, row.account_id)
            entries = renew_due(session, row.id, account, at)
            row = get_subscription(session, subscription_id)
            return [ledger_view(entry, row) for entry in entries]

    def audit_trail(
        self, account_id: int | None = None, *, since: datetime | None = None
    ) -> list[AuditView]:
        """Every audit event (of one account, or all), since ``since``, in the order written."""
        with self._storage.read() as session:
            query = (
                select(AuditEvent, Account.name)
                .join(Account, AuditEvent.account_id == Account.id)
                .order_by(AuditEvent.id)
            )
            if account_id is not None:
                query = query.where(AuditEvent.account_id == account_id)
            if since is not None:
                _require_aware(since)
                query = query.where(AuditEvent.at >= since)
            return [
                AuditView(
                    event.id,
                    name,
                    event.actor,
                    event.action,
                    event.at,
                    _details(event.details),
                )
                for event, name in session.execute(query).tuples()
            ]

    def check_invariants(self) -> CheckReport:
        """Check every invariant money depends on (:mod:`billing.books.rules`)."""
        with self._storage.read() as session:
            return check_invariants(session)

    def current_subscription(self, subscription_id: int) -> SubscriptionView:
        """The subscription with its stored (billed) period."""
        with self._storage.read() as session:
            row = get_subscription(session, subscription_id)
            return subscription_view(row, stored_period(row))


def _require_aware(at: datetime) -> None:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("the service needs timezone-aware instants")


def _details(text: str | None) -> dict[str, object]:
    try:
        value = json.loads(text or "{}")
    except ValueError:
        return {"unreadable": True}
    return value if isinstance(value, dict) else {"value": value}


def check_invariants(session: Session) -> CheckReport:
    """Check every invariant over the whole database (in the caller's read transaction)."""
    return check_books(read_books(session))
