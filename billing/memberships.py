"""The accounts a caller holds a role in, read in a bounded number of queries that return only
the rows an answer needs, however many accounts that is (an owner of hundreds — a reseller's
operator — costs what an owner of one does). The rules they feed stay in
:mod:`billing.access`; these only bound what is read."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence

from sqlalchemy import Select, func, select, union
from sqlalchemy.orm import Session

from billing.access import Caller, Role
from billing.models import Account, Member, SeatChangeRequest, Subscription


def _mine(caller: Caller) -> Select[tuple[int]]:
    return select(Member.account_id).where(
        Member.team_id == caller.team_id, Member.user_id == caller.user_id
    )


def caller_accounts(
    session: Session, caller: Caller, *, name: str | None, channel_id: str | None, first: int
) -> list[Account]:
    """Of the accounts the caller holds a role in, by name, in one query: the first ``first``,
    the first called ``name`` (case-insensitive) and two posted to ``channel_id`` — all
    :func:`billing.access.choose_account` needs to answer as it would over all of them."""
    mine = select(Account.id).where(Account.id.in_(_mine(caller))).order_by(Account.name)
    parts = [mine.limit(first)]
    if name is not None:
        parts.append(mine.where(func.lower(Account.name) == name.strip().lower()).limit(1))
    if channel_id is not None:
        parts.append(mine.where(Account.channel_id == channel_id).limit(2))
    ids = union(*(select(part.subquery().c.id) for part in parts))
    return list(
        session.scalars(
            select(Account)
            .where(Account.id.in_(ids))
            .order_by(Account.name)
            .execution_options(populate_existing=True)
        )
    )


def workspace_accounts(session: Session, team_id: str, *, limit: int) -> list[Account]:
    """At most ``limit`` of the workspace's accounts, by name."""
    return list(
        session.scalars(
            select(Account).where(Account.team_id == team_id).order_by(Account.name).limit(limit)
        )
    )


def other_account_names(
    session: Session, caller: Caller, account: Account, roles: Collection[Role], *, limit: int
) -> tuple[str, ...]:
    """The first ``limit`` names, by name, of the caller's other accounts in ``account``'s
    workspace in which they hold one of ``roles``: one query."""
    return tuple(
        session.scalars(
            select(Account.name)
            .join(Member, Member.account_id == Account.id)
            .where(
                Member.team_id == caller.team_id,
                Member.user_id == caller.user_id,
                Member.role.in_([role.value for role in roles]),
                Account.team_id == account.team_id,
                Account.id != account.id,
            )
            .order_by(Account.name)
            .limit(limit)
        )
    )


def accounts_page(
    session: Session, caller: Caller, roles: Collection[Role], *, start: int, limit: int
) -> tuple[int, list[tuple[Account, Role]]]:
    """How many accounts the caller holds one of ``roles`` in, and ``limit`` of them from the
    ``start``-th by name, each with the caller's role: two queries."""
    held = select(Member.account_id, Member.role).where(
        Member.team_id == caller.team_id,
        Member.user_id == caller.user_id,
        Member.role.in_([role.value for role in roles]),
    )
    total = session.scalar(select(func.count()).select_from(held.subquery())) or 0
    sub = held.subquery()
    rows = session.execute(
        select(Account, sub.c.role)
        .join(sub, sub.c.account_id == Account.id)
        .order_by(Account.name)
        .offset(start)
        .limit(limit)
    ).tuples()
    return total, [(account, Role(role)) for account, role in rows]


def subscriptions_by_account(
    session: Session, account_ids: Sequence[int]
) -> dict[int, list[Subscription]]:
    """The subscriptions of each of the accounts, by product: one query."""
    found: dict[int, list[Subscription]] = defaultdict(list)
    for row in session.scalars(
        select(Subscription)
        .where(Subscription.account_id.in_(account_ids))
        .order_by(Subscription.account_id, Subscription.product)
    ):
        found[row.account_id].append(row)
    return found


def recent_requests_by_account(
    session: Session, account_ids: Sequence[int], limit: int
) -> dict[int, list[tuple[SeatChangeRequest, Subscription]]]:
    """Each account's ``limit`` most recent requests with their subscriptions, newest first
    (:func:`billing.storage.recent_requests` for many accounts at once): one query."""
    rank = (
        func.row_number()
        .over(
            partition_by=Subscription.account_id,
            order_by=(SeatChangeRequest.created_at.desc(), SeatChangeRequest.id.desc()),
        )
        .label("rank")
    )
    ranked = (
        select(SeatChangeRequest.id, rank)
        .join(Subscription, SeatChangeRequest.subscription_id == Subscription.id)
        .where(Subscription.account_id.in_(account_ids))
        .subquery()
    )
    rows = session.execute(
        select(SeatChangeRequest, Subscription)
        .join(Subscription, SeatChangeRequest.subscription_id == Subscription.id)
        .join(ranked, ranked.c.id == SeatChangeRequest.id)
        .where(ranked.c.rank <= limit)
        .order_by(SeatChangeRequest.created_at.desc(), SeatChangeRequest.id.desc())
    ).tuples()
    found: dict[int, list[tuple[SeatChangeRequest, Subscription]]] = defaultdict(list)
    for request, subscription in rows:
        found[subscription.account_id].append((request, subscription))
    return found
