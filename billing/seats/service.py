"""Seat changes, the application layer: every use case authorises, loads, decides and persists
in one unit of work. (Reading an account: :mod:`billing.seats.reads`.)

Each method takes the caller (Slack ids), the command, the facts gathered at the edge (the
platform's user listing, when asked for) and the time, and returns a frozen outcome
(:mod:`billing.seats.outcomes`). A use case that needs the users of a platform returns
:class:`~billing.seats.outcomes.UsersNeeded` first — only after authorising the caller, so nobody
without a role ever makes Seatbot list a platform — and the edge calls it again with the listing.
The rules are pure functions (:mod:`billing.access`, :mod:`billing.seats.rules`,
:mod:`billing.seats.decrease`); this module only loads their inputs and persists their answers with
compare-and-set updates (:mod:`billing.storage`).

Synchronous code over short transactions: the async Slack edge calls it with
``asyncio.to_thread``. Time is always passed in (``at``: an aware instant).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from functools import partial

from sqlalchemy.orm import Session, sessionmaker

from billing.access import Action, Caller
from billing.approvals.rules import needs_approval
from billing.approvals.store import message_refs, policy_of, submit
from billing.events.rules import EventType
from billing.events.store import record_event, seat_change_event
from billing.models import Account, SeatChangeRequest, Subscription
from billing.periods import zone
from billing.products import Product
from billing.requests import OPEN_STATUSES, RequestSource, RequestStatus, request_source
from billing.row_views import stored_period, subscription_view
from billing.scope import (
    authorise_on,
    authorised_request,
    require_aware,
    resolve_account,
    subscription_for,
    subscription_of,
    visible_account,
)
from billing.seats.decrease import check_seat_change
from billing.seats.outcomes import (
    ChangeOutcome,
    UsersNeeded,
)
from billing.seats.renewal import renew_due
from billing.seats.rightsize import RightSizing
from billing.seats.rules import (
    OLDER_MESSAGE_NOTE,
    ChangeMode,
    ConfirmFacts,
    Staleness,
    Step,
    check_seat_count,
    clean_reason,
    confirm_step,
    quote_change,
    staleness,
    target_seats,
)
from billing.seats.steps import (
    Moved,
    Users,
    apply,
    cancelled,
    create_draft,
    present,
    requote,
    settled,
    users_needed,
    with_users,
)
from billing.storage import (
    Storage,
    get_subscription,
    load_request,
    move_audited,
)
from billing.users import UserListing

DEFAULT_QUOTE_TTL = timedelta(minutes=10)

_RACE_ATTEMPTS = 4


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
        #: The digest's right-size buttons (:mod:`billing.seats.rightsize`).
        self.right_sizing = RightSizing(self._storage)

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
        require_aware(at)
        with self._storage.write() as session:
            account = resolve_account(session, caller, account_name, channel_id)
            authorise_on(session, caller, account, Action.REQUEST_CHANGE)
            subscription = subscription_for(session, account, product)
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
        source: object = None,
    ) -> ChangeOutcome | UsersNeeded:
        """The seat-change form was submitted: the same as a command, with an exact count.
        ``source`` is where the form was opened from (``"digest"``: the digest's right-size
        button); only a known :class:`~billing.requests.RequestSource` is recorded, on the
        request, its audit entries and its webhook events."""
        require_aware(at)
        with self._storage.write() as session:
            account = visible_account(session, caller, account_id)
            authorise_on(session, caller, account, Action.REQUEST_CHANGE)
            subscription = subscription_of(session, account, subscription_id)
            renew_due(session, subscription.id, account, at)
            subscription = get_subscription(session, subscription.id)
            return self._create(
                session,
                caller,
                account,
                subscription,
                new_seats,
                reason,
                at,
                users,
                request_source(source),
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
        source: RequestSource | None = None,
    ) -> ChangeOutcome | UsersNeeded:
        product = Product(subscription.product)
        check_seat_count(new_seats, subscription.seats, product)
        cleaned = clean_reason(reason)
        is_decrease = new_seats < subscription.seats
        if is_decrease and users is None:
            return UsersNeeded(account.id, product)
        view = subscription_view(subscription, stored_period(subscription))
        proration = quote_change(view, new_seats, at, view.period, zone(account.timezone))
        request = create_draft(
            session, caller, account, subscription, proration, cleaned, at, source=source
        )
        check = check_seat_change(subscription.seats, new_seats, users) if is_decrease else None
        return present(session, caller, account, request, subscription, check, None, at)

    # ------------------------------------------------------------------ acting on a request

    def confirm(
        self,
        caller: Caller,
        *,
        request_id: int,
        revision: int,
        at: datetime,
        users: Users = None,
    ) -> ChangeOutcome | UsersNeeded:
        """The requester clicked Confirm on the prompt showing quote ``revision``: apply exactly
        that quote, once — or show the current state and apply nothing (see
        :func:`billing.seats.rules.confirm_step`). ``users``: the platform facts
        (:func:`billing.seats.steps.with_users`)."""
        require_aware(at)

        def once(listing: UserListing | None) -> ChangeOutcome | UsersNeeded:
            try:
                with self._storage.write() as session:
                    return self._confirm(session, caller, request_id, revision, at, listing)
            except Moved:
                # Another click won a compare-and-set; report the state it left.
                return self._after_race(caller, request_id, at, listing)

        return with_users(once, users, partial(self._needed, caller, request_id, Action.CONFIRM))

    def _needed(self, caller: Caller, request_id: int, action: Action) -> UsersNeeded | None:
        """The listing deciding ``action`` on the request needs, once the caller may do it."""
        with self._storage.read() as session:
            return users_needed(authorised_request(session, caller, request_id, action))

    def _confirm(
        self,
        session: Session,
        caller: Caller,
        request_id: int,
        revision: int,
        at: datetime,
        users: UserListing | None,
    ) -> ChangeOutcome | UsersNeeded:
        loaded = authorised_request(session, caller, request_id, Action.CONFIRM)
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
            return settled(session, loaded)
        if step is Step.NEED_USERS:
            return UsersNeeded(account.id, Product(subscription.product))
        if step is Step.SHOW_CURRENT or step is Step.REQUOTE:
            return self._current_state(session, caller, request_id, at, users, older=True)
        if step is Step.REFUSE and check is not None:
            return present(session, caller, account, request, subscription, check, None, at)
        policy = policy_of(session, account.id)
        if policy is not None and needs_approval(
            policy, request.old_seats, request.new_seats, request.net_minor
        ):
            return submit(session, caller, loaded, revision, policy, check, at)
        return apply(session, caller, loaded, subscription, revision, at)

    def check_again(
        self,
        caller: Caller,
        *,
        request_id: int,
        at: datetime,
        users: Users = None,
    ) -> ChangeOutcome | UsersNeeded:
        """Re-read the platform for a blocked or unchecked decrease (re-quoting it if the
        subscription moved) and answer its prompt or why it still cannot go ahead."""
        require_aware(at)

        def once(listing: UserListing | None) -> ChangeOutcome | UsersNeeded:
            try:
                with self._storage.write() as session:
                    authorised_request(session, caller, request_id, Action.CHECK_AGAIN)
                    return self._current_state(session, caller, request_id, at, listing)
            except Moved:
                return self._after_race(caller, request_id, at, listing)

        needed = partial(self._needed, caller, request_id, Action.CHECK_AGAIN)
        return with_users(once, users, needed)

    def _after_race(
        self, caller: Caller, request_id: int, at: datetime, users: UserListing | None
    ) -> ChangeOutcome | UsersNeeded:
        """The state another click left, shown to the (already authorised) caller; a few
        attempts, since each may race yet another click."""
        for _ in range(_RACE_ATTEMPTS - 1):
            try:
                with self._storage.write() as session:
                    return self._current_state(session, caller, request_id, at, users, older=True)
            except Moved:
                continue
        with self._storage.read() as session:
            return settled(session, load_request(session, request_id))

    def cancel(self, caller: Caller, *, request_id: int, at: datetime) -> ChangeOutcome:
        """Withdraw an open request (the requester, or any owner of the account)."""
        require_aware(at)
        with self._storage.write() as session:
            loaded = authorised_request(session, caller, request_id, Action.CANCEL)
            request = loaded.request
            status = RequestStatus(request.status)
            if status is RequestStatus.CANCELLED:
                return cancelled(session, loaded, caller)
            if status not in OPEN_STATUSES:
                return settled(session, loaded)
            stamps = message_refs(session, request.id)
            if not move_audited(session, loaded, status, RequestStatus.CANCELLED, caller, at):
                # Decided elsewhere a moment ago: report what it became.
                return settled(session, load_request(session, request_id))
            if status is RequestStatus.PENDING_APPROVAL:  # the billing system was told of it
                event = seat_change_event(
                    EventType.SEAT_CHANGE_CANCELLED,
                    loaded.account,
                    loaded.subscription,
                    request,
                    at,
                    (caller.team_id, caller.user_id),
                )
                record_event(session, event)
            return replace(
                cancelled(session, load_request(session, request_id), caller), stamps=stamps
            )

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
            return settled(session, loaded)
        renew_due(session, request.subscription_id, account, at)
        subscription = get_subscription(session, request.subscription_id)
        note = OLDER_MESSAGE_NOTE if older else None
        stale = self._staleness(request, subscription, at)
        if stale is not None:
            closed = requote(session, caller, loaded, subscription, stale, at)
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
        return present(session, caller, account, request, subscription, check, note, at)

    def _staleness(
        self, request: SeatChangeRequest, subscription: Subscription, at: datetime
    ) -> Staleness | None:
        return staleness(
            quoted_version=request.quoted_version,
            quoted_period=request.quoted_period,
            quoted_at=request.quoted_at,
            subscription_version=subscription.version,
            at=at,
            ttl=self._quote_ttl,
        )


__all__ = ["DEFAULT_QUOTE_TTL", "SeatChanges"]
