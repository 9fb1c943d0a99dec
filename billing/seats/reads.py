"""Reading an account for a person: ``/seats status``, ``/seats history``, the seat-change form
and its live preview. Each use case authorises the caller before it reads anything; one that
needs a platform's users answers :class:`~billing.seats.outcomes.UsersNeeded` first."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from billing.access import READERS, Action, Caller, may
from billing.errors import NotFound
from billing.memberships import (
    accounts_page,
    other_account_names,
    recent_requests_by_account,
    subscriptions_by_account,
)
from billing.models import Account
from billing.periods import zone
from billing.products import Product
from billing.requests import RequestStatus
from billing.row_views import account_view, request_view, subscription_view
from billing.scope import (
    authorise_on,
    current_views,
    period_of,
    require_aware,
    resolve_account,
    subscription_of,
    visible_account,
)
from billing.seats.decrease import check_seat_change
from billing.seats.forecast import Forecast, forecast
from billing.seats.outcomes import (
    AccountHistory,
    AccountSeats,
    ChangeForm,
    FormPreview,
    Home,
    HomeAccount,
    UsersNeeded,
)
from billing.seats.rules import HOME_PAGE, home_start, quote_change, seat_count_problem
from billing.storage import Storage, recent_requests, role_of, waiting_requests
from billing.users import UserListing
from billing.views import AccountView, SeatChangeView, SubscriptionView

#: The most other accounts ``/seats status`` names (the reply shows five).
OTHER_ACCOUNTS = 5


def forecast_of(
    session: Session,
    account: Account,
    at: datetime,
    subscriptions: Sequence[SubscriptionView] | None = None,
    waiting: Sequence[SeatChangeView] | None = None,
) -> Forecast:
    """``account``'s next invoice at ``at``, with the requests waiting for approval beside it
    (no authorisation: the caller's use case has authorised, or it is the operator's);
    ``subscriptions`` and ``waiting``: the account's, when the caller has read them already."""
    if waiting is None:
        waiting = [request_view(r, s) for r, s in waiting_requests(session, account.id)]
    return forecast(
        account_view(account),
        current_views(session, account, at) if subscriptions is None else subscriptions,
        waiting,
        at,
        zone(account.timezone),
    )


class AccountReads:
    """What a member of an account may read of it (authorised per call)."""

    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self._storage = Storage(session_factory)

    def status(
        self, caller: Caller, *, account_name: str | None, channel_id: str | None, at: datetime
    ) -> AccountSeats:
        """The account's subscriptions at ``at``, for a member with any role."""
        require_aware(at)
        with self._storage.read() as session:
            account = resolve_account(session, caller, account_name, channel_id)
            authorise_on(session, caller, account, Action.VIEW)
            subscriptions = tuple(current_views(session, account, at))
            return AccountSeats(
                account_view(account),
                subscriptions,
                tuple(UsersNeeded(account.id, s.product) for s in subscriptions),
                may(Action.REQUEST_CHANGE, role_of(session, account.id, caller)),
                other_account_names(session, caller, account, READERS, limit=OTHER_ACCOUNTS),
                forecast=forecast_of(session, account, at, subscriptions),
            )

    def forecast(
        self, caller: Caller, *, account_name: str | None, channel_id: str | None, at: datetime
    ) -> Forecast:
        """The account's next invoice at ``at`` (each product's renewal at today's seats), for
        a member with any role: authorised as ``/seats status`` is."""
        require_aware(at)
        with self._storage.read() as session:
            account = resolve_account(session, caller, account_name, channel_id)
            authorise_on(session, caller, account, Action.VIEW)
            return forecast_of(session, account, at)

    def history(
        self,
        caller: Caller,
        *,
        account_name: str | None,
        channel_id: str | None,
        limit: int = 15,
    ) -> AccountHistory:
        """The account's most recent confirmed seat changes, newest first, for a member with
        any role (a quote never confirmed is no change: it is left out)."""
        wanted = max(1, min(limit, 100))
        with self._storage.read() as session:
            account = resolve_account(session, caller, account_name, channel_id)
            authorise_on(session, caller, account, Action.VIEW)
            rows = recent_requests(session, account.id, wanted * 4)
            confirmed = [
                request_view(r, s)
                for r, s in rows
                if r.submitted_at is not None or r.applied_at is not None
            ]
            return AccountHistory(account_view(account), tuple(confirmed[:wanted]))

    def change_form(
        self, caller: Caller, *, account_name: str | None, channel_id: str | None, at: datetime
    ) -> ChangeForm:
        """What an owner may change (the seat-change form), with the users they may see."""
        form = ChangeForm(
            *self._subscriptions(caller, account_name, channel_id, Action.REQUEST_CHANGE, at)
        )
        if not form.subscriptions:
            raise NotFound(f"{form.account.display_name} has no subscriptions yet.")
        return form

    def _subscriptions(
        self,
        caller: Caller,
        account_name: str | None,
        channel_id: str | None,
        action: Action,
        at: datetime,
    ) -> tuple[AccountView, tuple[SubscriptionView, ...], tuple[UsersNeeded, ...]]:
        """The account the caller names (or the channel's), once they may ``action`` on it:
        its subscriptions at ``at`` and the listing each product's users would need."""
        require_aware(at)
        with self._storage.read() as session:
            account = resolve_account(session, caller, account_name, channel_id)
            authorise_on(session, caller, account, action)
            subscriptions = tuple(current_views(session, account, at))
            needed = tuple(UsersNeeded(account.id, s.product) for s in subscriptions)
            return account_view(account), subscriptions, needed

    def preview(
        self,
        caller: Caller,
        *,
        account_id: int,
        subscription_id: int,
        new_seats: int | None,
        at: datetime,
        users: UserListing | None = None,
    ) -> FormPreview | UsersNeeded:
        """The form's live preview: the quote for ``new_seats`` and, for a decrease, what the
        users on the platform allow. Always needs the listing (the form shows the users)."""
        require_aware(at)
        with self._storage.read() as session:
            account = visible_account(session, caller, account_id)
            authorise_on(session, caller, account, Action.REQUEST_CHANGE)
            subscription = subscription_of(session, account, subscription_id)
            product = Product(subscription.product)
            if users is None:
                return UsersNeeded(account.id, product)
            view = subscription_view(subscription, period_of(subscription, account, at))
            if new_seats is None:
                return FormPreview(
                    account_view(account),
                    view,
                    None,
                    None,
                    None,
                    problem="Enter the new number of seats (a whole number).",
                )
            problem = seat_count_problem(new_seats, subscription.seats, product)
            if problem is not None:
                return FormPreview(account_view(account), view, new_seats, None, None, problem)
            proration = quote_change(view, new_seats, at, view.period, zone(account.timezone))
            check = (
                check_seat_change(subscription.seats, new_seats, users)
                if new_seats < subscription.seats
                else None
            )
            return FormPreview(account_view(account), view, new_seats, proration, check)

    def home(self, caller: Caller, *, at: datetime, recent: int = 5, start: int = 0) -> Home:
        """The caller's App Home: the accounts they hold a role in (any role), by name,
        :data:`HOME_PAGE` from the ``start``-th (kept within them), with what they may act on.
        Nothing about accounts they hold no role in. The same few queries for any number of
        accounts."""
        require_aware(at)
        with self._storage.read() as session:
            start = max(0, start)
            total, page = accounts_page(session, caller, READERS, start=start, limit=HOME_PAGE)
            if home_start(start, total) != start:  # past the end (a stale button): the last
                start = home_start(start, total)
                total, page = accounts_page(session, caller, READERS, start=start, limit=HOME_PAGE)
            ids = [account.id for account, _ in page]
            subscriptions_of = subscriptions_by_account(session, ids)
            requests_of = recent_requests_by_account(session, ids, 200)
            me = (caller.team_id, caller.user_id)
            shown: list[HomeAccount] = []
            for account, role in page:
                subscriptions = tuple(
                    subscription_view(row, period_of(row, account, at))
                    for row in subscriptions_of[account.id]
                )
                requests = [request_view(r, s) for r, s in requests_of[account.id]]
                open_statuses = {RequestStatus.DRAFT, RequestStatus.PENDING_APPROVAL}
                shown.append(
                    HomeAccount(
                        account_view(account),
                        subscriptions,
                        tuple(UsersNeeded(account.id, s.product) for s in subscriptions),
                        tuple(
                            r
                            for r in requests
                            if (r.requested_by_team, r.requested_by_user) == me
                            and r.status in open_statuses
                        ),
                        tuple(
                            r
                            for r in requests
                            if r.status is RequestStatus.PENDING_APPROVAL
                            and me in r.approvers
                            and (r.requested_by_team, r.requested_by_user) != me
                        ),
                        tuple(r for r in requests if r.decided_at is not None)[:recent],
                        may(Action.REQUEST_CHANGE, role),
                        forecast=forecast_of(
                            session,
                            account,
                            at,
                            subscriptions,
                            [r for r in requests if r.status is RequestStatus.PENDING_APPROVAL],
                        ),
                    )
                )
            return Home(tuple(shown), start=start, total=total)
