"""Seat changes, the application layer: every use case authorises, loads, decides and persists
in one unit of work.

Each method takes the caller (Slack ids), the command, the facts gathered at the edge (the
platform's user listing, when asked for) and the time, and returns a frozen outcome
(:mod:`billing.outcomes`). A use case that needs the users of a platform returns
:class:`~billing.outcomes.UsersNeeded` first — only after authorising the caller, so nobody
without a role ever makes Seatbot list a platform — and the edge calls it again with the listing.
The rules are pure functions (:mod:`billing.access`, :mod:`billing.seat_rules`,
:mod:`billing.decrease`); this module only loads their inputs and persists their answers with
compare-and-set updates (:mod:`billing.repository`).

Synchronous code over short transactions: the async Slack edge calls it with
``asyncio.to_thread``. Time is always passed in (``at``: an aware instant).
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from billing.access import Action, Caller, authorise, choose_account
from billing.decrease import SeatCheck, check_seat_change
from billing.errors import REQUEST_GONE, NotFound
from billing.models import Account, SeatChangeRequest, Subscription
from billing.outcomes import (
    AccountHistory,
    AccountSeats,
    AlreadyApplied,
    ChangeApplied,
    ChangeCancelled,
    ChangeClosed,
    ChangeForm,
    ChangeOutcome,
    DecreaseBlocked,
    DecreaseUnverified,
    FormPreview,
    ReadyToConfirm,
    UsersNeeded,
)
from billing.periods import Interval, Period, period_at, zone
from billing.products import Product
from billing.renewal import renew_due
from billing.repository import (
    LoadedRequest,
    Storage,
    account_view,
    audit,
    get_account,
    get_subscription,
    is_visible,
    ledger_view,
    load_request,
    move_request,
    move_subscription_seats,
    owners_in_team,
    quote_columns,
    recent_requests,
    request_view,
    requote_request,
    role_of,
    stored_period,
    subscription_view,
    subscriptions_of,
    visible_accounts,
    write_applied_lines,
)
from billing.requests import OPEN_STATUSES, RequestStatus
from billing.seat_rules import (
    OLDER_MESSAGE_NOTE,
    ChangeMode,
    ConfirmFacts,
    Staleness,
    Step,
    check_seat_count,
    clean_reason,
    confirm_step,
    quote_change,
    seat_count_problem,
    staleness,
    target_seats,
)
from billing.users import UserListing
from billing.views import SubscriptionView

DEFAULT_QUOTE_TTL = timedelta(minutes=10)

_SETTLED_MESSAGES = {
    RequestStatus.PENDING_APPROVAL: "This seat change is waiting for a manager's approval.",
    RequestStatus.APPROVED: "This seat change is approved and being applied.",
    RequestStatus.DENIED: "This seat change was denied.",
    RequestStatus.CANCELLED: "This seat change was cancelled.",
    RequestStatus.EXPIRED: "This seat change expired; request it again.",
    RequestStatus.FAILED: "This seat change could not be applied; request it again.",
}


_RACE_ATTEMPTS = 4


class _Moved(Exception):
    """A compare-and-set lost: another click, retry or replica changed the row first."""


class SeatChanges:
    """The seat-change use cases for the Slack edge (and anything else acting for a person).

    ``quote_ttl`` is how long a stored quote may be confirmed before it is quoted again.
    """

    def __init__(
        self, session_factory: sessionmaker[Session], *, quote_ttl: timedelta = DEFAULT_QUOTE_TTL
    ) -> None:
        if quote_ttl <= timedelta(0):
            raise ValueError("quote_ttl must be positive")
        self._storage = Storage(session_factory)
        self._quote_ttl = quote_ttl

    # ------------------------------------------------------------------ reading an account

    def status(
        self, caller: Caller, *, account_name: str | None, channel_id: str | None, at: datetime
    ) -> AccountSeats:
        """The account's subscriptions at ``at``, for a member with any role."""
        _require_aware(at)
        with self._storage.read() as session:
            account = self._resolve(session, caller, account_name, channel_id)
            self._authorise(session, caller, account, Action.VIEW)
            subscriptions = tuple(_current_views(session, account, at))
            return AccountSeats(
                account_view(account),
                subscriptions,
                tuple(UsersNeeded(account.id, s.product) for s in subscriptions),
            )

    def history(
        self,
        caller: Caller,
        *,
        account_name: str | None,
        channel_id: str | None,
        limit: int = 15,
    ) -> AccountHistory:
        """The account's most recent seat changes, newest first, for a member with any role."""
        with self._storage.read() as session:
            account = self._resolve(session, caller, account_name, channel_id)
            self._authorise(session, caller, account, Action.VIEW)
            rows = recent_requests(session, account.id, max(1, min(limit, 100)))
            return AccountHistory(account_view(account), tuple(request_view(r, s) for r, s in rows))

    def change_form(
        self, caller: Caller, *, account_name: str | None, channel_id: str | None, at: datetime
    ) -> ChangeForm:
        """What an owner may change (the seat-change form), with the users they may see."""
        _require_aware(at)
        with self._storage.read() as session:
            account = self._resolve(session, caller, account_name, channel_id)
            self._authorise(session, caller, account, Action.REQUEST_CHANGE)
            subscriptions = tuple(_current_views(session, account, at))
            if not subscriptions:
                raise NotFound(f"{account.display_name} has no subscriptions yet.")
            return ChangeForm(
                account_view(account),
                subscriptions,
                tuple(UsersNeeded(account.id, s.product) for s in subscriptions),
            )

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
        _require_aware(at)
        with self._storage.read() as session:
            account = self._visible_account(session, caller, account_id)
            self._authorise(session, caller, account, Action.REQUEST_CHANGE)
            subscription = _subscription_of(session, account, subscription_id)
            product = Product(subscription.product)
            if users is None:
                return UsersNeeded(account.id, product)
            view = subscription_view(subscription, _period_at(subscription, account, at))
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

    # ------------------------------------------------------------------ requesting a change

    def request_by_command(
        self,
        caller: Caller,
        *,
        account_name: str | None,
        channel_id: str | None,
        product: Product,
        mode: ChangeMode,
        count: int,
        reason: str = "",
        at: datetime,
        users: UserListing | None = None,
    ) -> ChangeOutcome | UsersNeeded:
        """``add``/``remove``/``set`` ``count`` seats of ``product``: store a draft with its
        quote and answer its prompt (or why the decrease cannot go ahead)."""
        _require_aware(at)
        with self._storage.write() as session:
            account = self._resolve(session, caller, account_name, channel_id)
            self._authorise(session, caller, account, Action.REQUEST_CHANGE)
            subscription = _subscription_for(session, account, product)
            renew_due(session, subscription.id, account, at)
            subscription = get_subscription(session, subscription.id)
            new_seats = target_seats(mode, count, subscription.seats, product)
            return self._create(
                session, caller, account, subscription, new_seats, reason, at, users
            )

    def request_by_form(
        self,
        caller: Caller,
        *,
        account_id: int,
        subscription_id: int,
        new_seats: int,
        reason: str = "",
        at: datetime,
        users: UserListing | None = None,
    ) -> ChangeOutcome | UsersNeeded:
        """The seat-change form was submitted: the same as a command, with an exact count."""
        _require_aware(at)
        with self._storage.write() as session:
            account = self._visible_account(session, caller, account_id)
            self._authorise(session, caller, account, Action.REQUEST_CHANGE)
            subscription = _subscription_of(session, account, subscription_id)
            renew_due(session, subscription.id, account, at)
            subscription = get_subscription(session, subscription.id)
            return self._create(
                session, caller, account, subscription, new_seats, reason, at, users
            )

    def _create(
        self,
        session: Session,
        caller: Caller,
        account: Account,
        subscription: Subscription,
        new_seats: int,
        reason: str,
        at: datetime,
        users: UserListing | None,
    ) -> ChangeOutcome | UsersNeeded:
        product = Product(subscription.product)
        check_seat_count(new_seats, subscription.seats, product)
        cleaned = clean_reason(reason)
        is_decrease = new_seats < subscription.seats
        if is_decrease and users is None:
            return UsersNeeded(account.id, product)
        view = subscription_view(subscription, stored_period(subscription))
        proration = quote_change(view, new_seats, at, view.period, zone(account.timezone))
        request = SeatChangeRequest(
            subscription_id=subscription.id,
            requested_by_team=caller.team_id,
            requested_by_user=caller.user_id,
            reason=cleaned,
            status=RequestStatus.DRAFT.value,
            quote_revision=1,
            idempotency_key=f"scr_{secrets.token_hex(16)}",
            created_at=at,
            updated_at=at,
            **quote_columns(proration, subscription.version, at),
        )
        session.add(request)
        session.flush()
        audit(
            session,
            account.id,
            caller.actor,
            "request.created",
            at,
            request_id=request.id,
            product=subscription.product,
            old_seats=request.old_seats,
            new_seats=new_seats,
            net_minor=request.net_minor,
            currency=request.currency,
        )
        check = check_seat_change(subscription.seats, new_seats, users) if is_decrease else None
        return self._present(session, caller, account, request, subscription, check, None, at)

    # ------------------------------------------------------------------ acting on a request

    def confirm(
        self,
        caller: Caller,
        *,
        request_id: int,
        revision: int,
        at: datetime,
        users: UserListing | None = None,
    ) -> ChangeOutcome | UsersNeeded:
        """The requester clicked Confirm on the prompt showing quote ``revision``: apply exactly
        that quote, once — or show the current state and apply nothing (see
        :func:`billing.seat_rules.confirm_step`)."""
        _require_aware(at)
        try:
            with self._storage.write() as session:
                return self._confirm(session, caller, request_id, revision, at, users)
        except _Moved:
            # Another click won a compare-and-set; report the state it left.
            return self._after_race(caller, request_id, at, users)

    def _confirm(
        self,
        session: Session,
        caller: Caller,
        request_id: int,
        revision: int,
        at: datetime,
        users: UserListing | None,
    ) -> ChangeOutcome | UsersNeeded:
        loaded = self._authorised_request(session, caller, request_id, Action.CONFIRM)
        request, account = loaded.request, loaded.account
        status = RequestStatus(request.status)
        if status is RequestStatus.DRAFT:
            renew_due(session, request.subscription_id, account, at)
        subscription = get_subscription(session, request.subscription_id)
        is_decrease = request.new_seats < request.old_seats
        check = (
            check_seat_change(request.old_seats, request.new_seats, users)
            if is_decrease and users is not None
            else None
        )
        step = confirm_step(
            ConfirmFacts(
                status=status,
                clicked_revision=revision,
                stored_revision=request.quote_revision,
                stale=self._staleness(request, subscription, at),
                is_decrease=is_decrease,
                check=check,
            )
        )
        if step is Step.SETTLED:
            return self._settled(session, loaded)
        if step is Step.NEED_USERS:
            return UsersNeeded(account.id, Product(subscription.product))
        if step is Step.SHOW_CURRENT or step is Step.REQUOTE:
            return self._current_state(session, caller, request_id, at, users, older=True)
        if step is Step.REFUSE and check is not None:
            return self._present(session, caller, account, request, subscription, check, None, at)
        return self._apply(session, caller, loaded, subscription, revision, at)

    def _apply(
        self,
        session: Session,
        caller: Caller,
        loaded: LoadedRequest,
        subscription: Subscription,
        revision: int,
        at: datetime,
    ) -> ChangeApplied:
        """draft → approved → applied: both compare-and-sets and the ledger lines, or nothing."""
        request, account = loaded.request, loaded.account
        if not move_request(
            session,
            request.id,
            RequestStatus.DRAFT,
            RequestStatus.APPROVED,
            revision=revision,
            decided_by_team=caller.team_id,
            decided_by_user=caller.user_id,
            decided_at=at,
            updated_at=at,
        ):
            raise _Moved
        audit(session, account.id, caller.actor, "request.approved", at, request_id=request.id)
        if not move_request(
            session,
            request.id,
            RequestStatus.APPROVED,
            RequestStatus.APPLIED,
            applied_at=at,
            updated_at=at,
        ):
            raise _Moved
        if not move_subscription_seats(
            session, subscription.id, version=request.quoted_version, seats=request.new_seats
        ):
            raise _Moved  # another change landed first: rolled back, then quoted again
        entries = write_applied_lines(session, request, at)
        audit(
            session,
            account.id,
            caller.actor,
            "request.applied",
            at,
            request_id=request.id,
            revision=revision,
            product=subscription.product,
            old_seats=request.old_seats,
            new_seats=request.new_seats,
            net_minor=request.net_minor,
            currency=request.currency,
            ledger_keys=[entry.idempotency_key for entry in entries],
        )
        session.refresh(request)
        fresh = get_subscription(session, subscription.id)
        return ChangeApplied(
            account_view(account),
            request_view(request, fresh),
            tuple(ledger_view(entry, fresh) for entry in entries),
            caller.user_id,
        )

    def check_again(
        self,
        caller: Caller,
        *,
        request_id: int,
        at: datetime,
        users: UserListing | None = None,
    ) -> ChangeOutcome | UsersNeeded:
        """Re-read the platform for a blocked or unchecked decrease (re-quoting it if the
        subscription moved) and answer its prompt or why it still cannot go ahead."""
        _require_aware(at)
        try:
            with self._storage.write() as session:
                self._authorised_request(session, caller, request_id, Action.CHECK_AGAIN)
                return self._current_state(session, caller, request_id, at, users)
        except _Moved:
            return self._after_race(caller, request_id, at, users)

    def _after_race(
        self, caller: Caller, request_id: int, at: datetime, users: UserListing | None
    ) -> ChangeOutcome | UsersNeeded:
        """The state another click left, shown to the (already authorised) caller; a few
        attempts, since each may race yet another click."""
        for _ in range(_RACE_ATTEMPTS - 1):
            try:
                with self._storage.write() as session:
                    return self._current_state(session, caller, request_id, at, users, older=True)
            except _Moved:
                continue
        with self._storage.read() as session:
            return self._settled(session, load_request(session, request_id))

    def cancel(self, caller: Caller, *, request_id: int, at: datetime) -> ChangeOutcome:
        """Withdraw an open request (the requester, or any owner of the account)."""
        _require_aware(at)
        with self._storage.write() as session:
            loaded = self._authorised_request(session, caller, request_id, Action.CANCEL)
            request = loaded.request
            status = RequestStatus(request.status)
            if status is RequestStatus.CANCELLED:
                return self._cancelled(session, loaded, caller)
            if status not in OPEN_STATUSES:
                return self._settled(session, loaded)
            if not move_request(
                session, request.id, status, RequestStatus.CANCELLED, updated_at=at
            ):
                # Decided elsewhere a moment ago: report what it became.
                return self._settled(session, load_request(session, request_id))
            audit(
                session,
                loaded.account.id,
                caller.actor,
                "request.cancelled",
                at,
                request_id=request.id,
            )
            return self._cancelled(session, load_request(session, request_id), caller)

    # ------------------------------------------------------------------ helpers

    def _current_state(
        self,
        session: Session,
        caller: Caller,
        request_id: int,
        at: datetime,
        users: UserListing | None,
        *,
        older: bool = False,
    ) -> ChangeOutcome | UsersNeeded:
        """The request as it stands now, shown for its requester's decision: re-quoted first if
        its quote went stale, then (for a decrease) checked against the users."""
        loaded = load_request(session, request_id)
        request, account = loaded.request, loaded.account
        if RequestStatus(request.status) is not RequestStatus.DRAFT:
            return self._settled(session, loaded)
        renew_due(session, request.subscription_id, account, at)
        subscription = get_subscription(session, request.subscription_id)
        note = OLDER_MESSAGE_NOTE if older else None
        stale = self._staleness(request, subscription, at)
        if stale is not None:
            closed = self._requote(session, caller, loaded, subscription, stale, at)
            if closed is not None:
                return closed
            loaded = load_request(session, request_id)
            request = loaded.request
            note = stale.note
        if request.new_seats < request.old_seats:
            if users is None:
                return UsersNeeded(account.id, Product(subscription.product))
            check = check_seat_change(request.old_seats, request.new_seats, users)
        else:
            check = None
        return self._present(session, caller, account, request, subscription, check, note, at)

    def _requote(
        self,
        session: Session,
        caller: Caller,
        loaded: LoadedRequest,
        subscription: Subscription,
        stale: Staleness,
        at: datetime,
    ) -> ChangeOutcome | None:
        """Store a fresh quote on the draft (compare-and-set on its status and revision);
        ``None`` when stored, or the outcome when the change no longer changes anything."""
        request, account = loaded.request, loaded.account
        if request.new_seats == subscription.seats:
            if not move_request(
                session,
                request.id,
                RequestStatus.DRAFT,
                RequestStatus.CANCELLED,
                revision=request.quote_revision,
                updated_at=at,
            ):
                raise _Moved
            audit(
                session,
                account.id,
                caller.actor,
                "request.cancelled",
                at,
                request_id=request.id,
                reason="no_change",
            )
            session.refresh(request)
            return ChangeClosed(
                account_view(account),
                request_view(request, subscription),
                f"{Product(subscription.product).label} already has {subscription.seats} seats; "
                "nothing to change.",
            )
        view = subscription_view(subscription, stored_period(subscription))
        proration = quote_change(view, request.new_seats, at, view.period, zone(account.timezone))
        if not requote_request(
            session,
            request.id,
            revision=request.quote_revision,
            proration=proration,
            subscription_version=subscription.version,
            at=at,
        ):
            raise _Moved
        audit(
            session,
            account.id,
            caller.actor,
            "request.requoted",
            at,
            request_id=request.id,
            cause=stale.value,
            revision=request.quote_revision + 1,
            old_seats=proration.old_quantity,
            net_minor=proration.net.minor,
        )
        return None

    def _present(
        self,
        session: Session,
        caller: Caller,
        account: Account,
        request: SeatChangeRequest,
        subscription: Subscription,
        check: SeatCheck | None,
        note: str | None,
        at: datetime,
    ) -> ChangeOutcome:
        """The draft's prompt, or why its decrease cannot go ahead (``check``)."""
        view = request_view(request, subscription)
        if check is None or check.allowed:
            return ReadyToConfirm(account_view(account), view, check, note)
        audit(
            session,
            account.id,
            caller.actor,
            "request.refused",
            at,
            request_id=request.id,
            reason=check.verdict.value,
        )
        if check.reason is not None:
            return DecreaseUnverified(account_view(account), view, check.reason)
        return DecreaseBlocked(account_view(account), view, check)

    def _settled(self, session: Session, loaded: LoadedRequest) -> ChangeOutcome:
        request, subscription, account = loaded.request, loaded.subscription, loaded.account
        view = request_view(request, subscription)
        status = RequestStatus(request.status)
        if status is RequestStatus.APPLIED:
            return AlreadyApplied(account_view(account), view)
        if status is RequestStatus.DRAFT:
            return ReadyToConfirm(account_view(account), view)
        return ChangeClosed(account_view(account), view, _SETTLED_MESSAGES[status])

    def _cancelled(
        self, session: Session, loaded: LoadedRequest, caller: Caller
    ) -> ChangeCancelled:
        subscription = get_subscription(session, loaded.request.subscription_id)
        return ChangeCancelled(
            account_view(loaded.account),
            request_view(loaded.request, subscription),
            subscription.seats,
            caller.user_id,
        )

    def _staleness(
        self, request: SeatChangeRequest, subscription: Subscription, at: datetime
    ) -> Staleness | None:
        return staleness(
            quoted_version=request.quoted_version,
            quoted_period=_quoted_period(request),
            quoted_at=request.quoted_at,
            subscription_version=subscription.version,
            at=at,
            ttl=self._quote_ttl,
        )

    def _resolve(
        self, session: Session, caller: Caller, name: str | None, channel_id: str | None
    ) -> Account:
        accounts = visible_accounts(session, caller)
        member_of = {a.id for a in accounts if role_of(session, a.id, caller) is not None}
        chosen = choose_account(
            [account_view(a) for a in accounts],
            name=name,
            channel_id=channel_id,
            member_of=member_of,
        )
        return get_account(session, chosen.id)

    def _visible_account(self, session: Session, caller: Caller, account_id: int) -> Account:
        account = session.get(Account, account_id)
        if account is None or not is_visible(session, account, caller):
            raise NotFound("This form has expired: close it and type /seats again.")
        return account

    def _authorise(
        self,
        session: Session,
        caller: Caller,
        account: Account,
        action: Action,
        *,
        is_requester: bool = False,
    ) -> None:
        authorise(
            action,
            role_of(session, account.id, caller),
            account_name=account.display_name,
            owners=owners_in_team(session, account.id, caller.team_id),
            is_requester=is_requester,
        )

    def _authorised_request(
        self, session: Session, caller: Caller, request_id: int, action: Action
    ) -> LoadedRequest:
        """The request, if the caller may do ``action`` on it; a request of an account the
        caller's workspace cannot see does not exist for them."""
        loaded = load_request(session, request_id)
        if not is_visible(session, loaded.account, caller):
            raise NotFound(REQUEST_GONE)
        request = loaded.request
        is_requester = (request.requested_by_team, request.requested_by_user) == (
            caller.team_id,
            caller.user_id,
        )
        self._authorise(session, caller, loaded.account, action, is_requester=is_requester)
        return loaded


# -- module helpers -------------------------------------------------------------------------------


def _require_aware(at: datetime) -> None:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("the use cases need timezone-aware instants")


def _period_at(subscription: Subscription, account: Account, at: datetime) -> Period:
    return period_at(
        subscription.anchor, Interval(subscription.interval), at, zone(account.timezone)
    )


def _current_views(session: Session, account: Account, at: datetime) -> list[SubscriptionView]:
    return [
        subscription_view(row, _period_at(row, account, at))
        for row in subscriptions_of(session, account.id)
    ]


def _subscription_for(session: Session, account: Account, product: Product) -> Subscription:
    for row in subscriptions_of(session, account.id):
        if row.product == product.value:
            return row
    raise NotFound(f"{account.display_name} has no {product.label} subscription.")


def _subscription_of(session: Session, account: Account, subscription_id: int) -> Subscription:
    row = session.get(Subscription, subscription_id, populate_existing=True)
    if row is None or row.account_id != account.id:
        raise NotFound(f"That product is not part of {account.display_name}.")
    return row


def _quoted_period(request: SeatChangeRequest) -> Period:
    return Period(request.quoted_period_start, request.quoted_period_end)


__all__ = ["DEFAULT_QUOTE_TTL", "SeatChanges"]
