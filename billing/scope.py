"""Authorise → load: what every use case does first, for a caller identified by Slack ids.

An account exists for a caller only when they may know of it (:func:`billing.access.may_know`);
a request exists for them only when its account does, or it names them as an approver. Then
:func:`billing.access.authorise` decides whether they may do what they ask, before anything
about the account is read.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy.orm import Session

from billing.access import (
    AMBIGUOUS_NAMES,
    Action,
    Caller,
    authorise,
    choose_account,
    may_know,
)
from billing.errors import REQUEST_GONE, NotFound
from billing.memberships import caller_accounts, workspace_accounts
from billing.models import Account, Subscription
from billing.periods import Interval, Period, period_at, zone
from billing.products import Product
from billing.row_views import account_view, people, subscription_view
from billing.storage import (
    LoadedRequest,
    load_request,
    owners_in_team,
    role_of,
    subscriptions_of,
)
from billing.views import SubscriptionView

#: A Slack user, by ids: ``(team_id, user_id)``.
Person = tuple[str, str]

FORM_GONE = "This form has expired: close it and start again."


def resolve_account(
    session: Session, caller: Caller, name: str | None, channel_id: str | None
) -> Account:
    """The account a request from the caller's workspace acts on (see
    :func:`billing.access.choose_account`), in one query, or two for a caller who holds no
    role anywhere: only the accounts that can change the answer are read, never the whole
    workspace nor every account of an owner of hundreds."""
    mine = caller_accounts(
        session, caller, name=name, channel_id=channel_id, first=AMBIGUOUS_NAMES + 1
    )
    # Without a role anywhere, one of the workspace's tells "no role" from "no account".
    accounts = mine or workspace_accounts(session, caller.team_id, limit=1)
    chosen = choose_account(
        [account_view(a) for a in accounts],
        name=name,
        channel_id=channel_id,
        member_of={account.id for account in mine},
    )
    return next(account for account in accounts if account.id == chosen.id)


def visible_account(session: Session, caller: Caller, account_id: int) -> Account:
    """The account a form names, if the caller may know of it (:func:`billing.access.may_know`)."""
    account = session.get(Account, account_id)
    if account is None or not may_know(
        account.team_id, caller, role_of(session, account_id, caller)
    ):
        raise NotFound(FORM_GONE)
    return account


def authorise_on(
    session: Session,
    caller: Caller,
    account: Account,
    action: Action,
    *,
    is_requester: bool = False,
) -> None:
    """Raise :class:`billing.errors.NotAuthorised` unless the caller may do ``action``."""
    authorise(
        action,
        role_of(session, account.id, caller),
        account_name=account.display_name,
        contacts=owners_in_team(session, account.id, caller.team_id),
        is_requester=is_requester,
    )


def authorised_request(
    session: Session,
    caller: Caller,
    request_id: int,
    action: Action,
    *,
    deciders: Callable[[LoadedRequest], tuple[Person, ...]] | None = None,
) -> LoadedRequest:
    """The request, if the caller may do ``action`` on it; a request of an account the caller
    may not know of does not exist for them. ``deciders`` says who may decide the request
    (:attr:`Action.DECIDE`; they are whom a refused caller is told to ask)."""
    loaded = load_request(session, request_id)
    request, account = loaded.request, loaded.account
    me = (caller.team_id, caller.user_id)
    role = role_of(session, account.id, caller)
    listed = deciders is not None and me in people(request.approvers)
    if not may_know(account.team_id, caller, role, listed=listed):
        raise NotFound(REQUEST_GONE)
    is_requester = (request.requested_by_team, request.requested_by_user) == me
    if deciders is None:
        contacts = owners_in_team(session, account.id, caller.team_id)
        is_decider = False
    else:
        everyone = deciders(loaded)
        contacts = tuple(user for team, user in everyone if team == caller.team_id)
        is_decider = me in everyone
    authorise(
        action,
        role,
        account_name=account.display_name,
        contacts=contacts,
        is_requester=is_requester,
        is_decider=is_decider,
    )
    return loaded


def require_aware(at: datetime) -> None:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("the use cases need timezone-aware instants")


def period_of(subscription: Subscription, account: Account, at: datetime) -> Period:
    """The subscription's billing period containing ``at``."""
    return period_at(
        subscription.anchor, Interval(subscription.interval), at, zone(account.timezone)
    )


def current_views(session: Session, account: Account, at: datetime) -> list[SubscriptionView]:
    """The account's subscriptions, each with its period containing ``at``."""
    return [
        subscription_view(row, period_of(row, account, at))
        for row in subscriptions_of(session, account.id)
    ]


def subscription_for(session: Session, account: Account, product: Product) -> Subscription:
    """The account's subscription to ``product``."""
    for row in subscriptions_of(session, account.id):
        if row.product == product.value:
            return row
    raise NotFound(f"{account.display_name} has no {product.label} subscription.")


def subscription_of(session: Session, account: Account, subscription_id: int) -> Subscription:
    """The subscription a form names, if it belongs to ``account``."""
    row = session.get(Subscription, subscription_id, populate_existing=True)
    if row is None or row.account_id != account.id:
        raise NotFound(f"That product is not part of {account.display_name}.")
    return row
