"""The steps a seat-change use case persists: apply, re-quote, answer with the prompt, report
a settled request. Each runs in the caller's transaction and moves rows only by compare-and-set;
a lost race raises :class:`Moved`, and the use case rolls back and reports what won."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from billing.access import Caller
from billing.errors import SeatbotError, UserFacingError
from billing.events.rules import EventType
from billing.events.store import record_event, seat_change_event
from billing.models import Account, SeatChangeRequest, Subscription
from billing.periods import zone
from billing.products import Product
from billing.proration import Proration
from billing.requests import OPEN_STATUSES, RequestSource, RequestStatus
from billing.row_views import (
    account_view,
    ledger_view,
    request_view,
    stored_period,
    subscription_view,
)
from billing.seats.decrease import SeatCheck
from billing.seats.outcomes import (
    AlreadyApplied,
    ChangeApplied,
    ChangeCancelled,
    ChangeClosed,
    ChangeOutcome,
    DecreaseBlocked,
    DecreaseUnverified,
    ReadyToConfirm,
    UsersNeeded,
    UsersSource,
)
from billing.seats.rules import Staleness, quote_change
from billing.storage import (
    LoadedRequest,
    audit,
    get_subscription,
    move_audited,
    move_request,
    move_subscription_seats,
    quote_columns,
    requote_request,
    stored_lines,
    write_applied_lines,
)
from billing.users import UserListing

R = TypeVar("R")

#: The platform's users a use case decides with: the listing itself, a port to ask (once) for
#: it, or nothing yet (the use case then answers :class:`UsersNeeded`).
Users = UserListing | UsersSource | None

CHANGED_MEANWHILE = "The account changed while Seatbot was checking it; try again."


def users_needed(loaded: LoadedRequest) -> UsersNeeded | None:
    """Whether deciding on the (already authorised) request needs its platform's users: an
    open decrease does; anything else does not."""
    request = loaded.request
    if RequestStatus(request.status) not in OPEN_STATUSES or request.new_seats >= request.old_seats:
        return None
    return UsersNeeded(loaded.account.id, Product(loaded.subscription.product))


def with_users(
    run: Callable[[UserListing | None], R | UsersNeeded],
    users: Users,
    needed: Callable[[], UsersNeeded | None],
) -> R | UsersNeeded:
    """Run one unit of work with the platform facts it needs. Given a port, ``needed`` (an
    authorised read) says which listing to ask it for, once and outside any transaction,
    before the one ``run``; only when the subscription moved meanwhile and the change became a
    decrease is the port asked again. Given a listing or nothing, ``run`` gets it as is."""
    if users is None or isinstance(users, UserListing):
        return run(users)
    wanted = needed()
    outcome = run(None if wanted is None else users(wanted))
    if isinstance(outcome, UsersNeeded):
        outcome = run(users(outcome))
        if isinstance(outcome, UsersNeeded):
            raise UserFacingError(CHANGED_MEANWHILE)
    return outcome


SETTLED_MESSAGES = {
    RequestStatus.PENDING_APPROVAL: "This seat change is waiting for a manager's approval.",
    RequestStatus.APPROVED: "This seat change is approved and being applied.",
    RequestStatus.DENIED: "This seat change was denied.",
    RequestStatus.CANCELLED: "This seat change was cancelled.",
    RequestStatus.EXPIRED: "This seat change expired; request it again.",
    RequestStatus.FAILED: "This seat change could not be applied; request it again.",
}


class Moved(SeatbotError):
    """A compare-and-set lost: another click, retry or replica changed the row first."""


def apply(
    session: Session,
    caller: Caller,
    loaded: LoadedRequest,
    subscription: Subscription,
    revision: int,
    at: datetime,
    *,
    from_status: RequestStatus = RequestStatus.DRAFT,
) -> ChangeApplied:
    """``from_status`` (a draft its owner confirms, or a request pending approval that an
    approver approves) → approved → applied: the compare-and-sets, the ledger lines and their
    outbox event, or nothing. ``caller`` is who decided."""
    request, account = loaded.request, loaded.account
    if not move_audited(
        session,
        loaded,
        from_status,
        RequestStatus.APPROVED,
        caller,
        at,
        at_revision=revision,
        decided=True,
        revision=revision,
    ):
        raise Moved
    decided_by = (caller.team_id, caller.user_id)
    if from_status is RequestStatus.PENDING_APPROVAL:
        # The billing system heard it was requested: now that it is approved (written only
        # by the click that won the compare-and-set above).
        approved = seat_change_event(
            EventType.SEAT_CHANGE_APPROVED, account, subscription, request, at, decided_by
        )
        record_event(session, approved)
    if not move_request(
        session,
        request.id,
        RequestStatus.APPROVED,
        RequestStatus.APPLIED,
        applied_at=at,
        updated_at=at,
    ):
        raise Moved
    if not move_subscription_seats(
        session, subscription.id, version=request.quoted_version, seats=request.new_seats
    ):
        raise Moved  # another change landed first: rolled back, then quoted again
    entries = write_applied_lines(session, request, at)
    # The billing hand-off: its outbox event, in this same transaction.
    event = seat_change_event(
        EventType.SEAT_CHANGE_APPLIED, account, subscription, request, at, decided_by, entries
    )
    record_event(session, event)
    _audit(
        session,
        caller,
        account,
        request,
        "request.applied",
        at,
        revision=revision,
        **{"from": RequestStatus.APPROVED.value, "to": RequestStatus.APPLIED.value},
        **_figures(request, subscription),
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


def requote(
    session: Session,
    caller: Caller,
    loaded: LoadedRequest,
    subscription: Subscription,
    stale: Staleness,
    at: datetime,
) -> ChangeOutcome | None:
    """Store a fresh quote on the open request (a draft, or one pending approval;
    compare-and-set on its status and revision); ``None`` when stored, or the outcome when the
    change no longer changes anything."""
    request, account = loaded.request, loaded.account
    status = RequestStatus(request.status)
    if status not in OPEN_STATUSES:
        raise Moved  # decided meanwhile: the caller reports what it became
    if request.new_seats == subscription.seats:
        if not move_audited(
            session,
            loaded,
            status,
            RequestStatus.CANCELLED,
            caller,
            at,
            at_revision=request.quote_revision,
            reason="no_change",
        ):
            raise Moved
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
        status=status,
    ):
        raise Moved
    _audit(
        session,
        caller,
        account,
        request,
        "request.requoted",
        at,
        cause=stale.value,
        revision=request.quote_revision + 1,
        old_seats=proration.old_quantity,
        net_minor=proration.net.minor,
    )
    return None


def present(
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
    _audit(session, caller, account, request, "request.refused", at, reason=check.verdict.value)
    if check.reason is not None:
        return DecreaseUnverified(account_view(account), view, check.reason)
    return DecreaseBlocked(account_view(account), view, check)


def settled(session: Session, loaded: LoadedRequest) -> ChangeOutcome:
    request, subscription, account = loaded.request, loaded.subscription, loaded.account
    view = request_view(request, subscription)
    status = RequestStatus(request.status)
    if status is RequestStatus.APPLIED:
        return AlreadyApplied(account_view(account), view)
    if status is RequestStatus.DRAFT:
        return ReadyToConfirm(account_view(account), view)
    return ChangeClosed(account_view(account), view, SETTLED_MESSAGES[status])


def cancelled(session: Session, loaded: LoadedRequest, caller: Caller) -> ChangeCancelled:
    subscription = get_subscription(session, loaded.request.subscription_id)
    return ChangeCancelled(
        account_view(loaded.account),
        request_view(loaded.request, subscription),
        subscription.seats,
        caller.user_id,
    )


def create_draft(
    session: Session,
    caller: Caller,
    account: Account,
    subscription: Subscription,
    proration: Proration,
    reason: str,
    at: datetime,
    *,
    source: RequestSource | None = None,
) -> SeatChangeRequest:
    """Store a new draft request for ``caller`` with its quote (``proration``), audited; its
    idempotency key is minted here, once."""
    request = SeatChangeRequest(
        subscription_id=subscription.id,
        requested_by_team=caller.team_id,
        requested_by_user=caller.user_id,
        reason=reason,
        status=RequestStatus.DRAFT.value,
        quote_revision=1,
        idempotency_key=f"scr_{secrets.token_hex(16)}",
        source=None if source is None else source.value,
        created_at=at,
        updated_at=at,
        **quote_columns(proration, subscription.version, at),
    )
    session.add(request)
    session.flush()
    _audit(
        session,
        caller,
        account,
        request,
        "request.created",
        at,
        to=RequestStatus.DRAFT.value,
        **_figures(request, subscription),
    )
    return request


def _audit(
    session: Session,
    caller: Caller,
    account: Account,
    request: SeatChangeRequest,
    action: str,
    at: datetime,
    **details: Any,
) -> None:
    """The audit event of ``caller``'s ``action`` on ``request``, with ``details``."""
    audit(session, account.id, caller.actor, action, at, request_id=request.id, **details)


def _figures(request: SeatChangeRequest, subscription: Subscription) -> dict[str, Any]:
    """What the audit events of a created and an applied request record of it: its key, the
    seats and net, and ``source`` for a change started from the digest."""
    figures: dict[str, Any] = {
        "idempotency_key": request.idempotency_key,
        "product": subscription.product,
        "old_seats": request.old_seats,
        "new_seats": request.new_seats,
        "net_minor": request.net_minor,
        "currency": request.currency,
    }
    return figures if request.source is None else figures | {"source": request.source}


def same_amounts_now(
    request: SeatChangeRequest, subscription: Subscription, account: Account, at: datetime
) -> bool:
    """Whether pricing the request's change now gives exactly its stored lines."""
    view = subscription_view(subscription, stored_period(subscription))
    fresh = quote_change(view, request.new_seats, at, view.period, zone(account.timezone))
    return fresh.lines == stored_lines(request)
