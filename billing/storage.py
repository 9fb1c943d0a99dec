"""Storage for the use cases: transactions, loading, compare-and-set updates, the ledger and the
audit trail. (Rows become frozen views in :mod:`billing.row_views`.)

Every state change here is a compare-and-set (``UPDATE … WHERE status = :s AND
quote_revision = :r``, ``UPDATE … WHERE version = :v``) that reports whether it won, so two
clicks, retries or replicas cannot both move the same row; ``SELECT … FOR UPDATE`` is never
used (SQLite ignores it). The rules themselves live in :mod:`billing.seats.rules`,
:mod:`billing.seats.decrease` and :mod:`billing.access`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, Update, select, update
from sqlalchemy.orm import Session, sessionmaker

from billing.access import Caller, Role
from billing.errors import REQUEST_GONE, NotFound
from billing.models import (
    READ_ONLY_OPTION,
    Account,
    AuditEvent,
    LedgerEntry,
    Member,
    SeatChangeRequest,
    Subscription,
)
from billing.money import Money
from billing.proration import (
    LineKind,
    Proration,
    ProrationLine,
)
from billing.requests import RequestStatus, check_transition


class Storage:
    """Short transactions on one database: :meth:`read` (SQLite: a deferred, read-only
    transaction) and :meth:`write` (committed on success, rolled back on any error)."""

    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self.sessions = session_factory

    @contextmanager
    def read(self) -> Iterator[Session]:
        with self.sessions() as session:
            read_only: dict[str, Any] = {READ_ONLY_OPTION: True}
            session.connection(execution_options=read_only)
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        with self.sessions.begin() as session:
            yield session


# -- loading ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoadedRequest:
    request: SeatChangeRequest
    subscription: Subscription
    account: Account


def get_account(session: Session, account_id: int) -> Account:
    account = session.get(Account, account_id, populate_existing=True)
    if account is None:
        raise NotFound("That account does not exist.")
    return account


def get_subscription(session: Session, subscription_id: int) -> Subscription:
    subscription = session.get(Subscription, subscription_id, populate_existing=True)
    if subscription is None:
        raise NotFound("That subscription does not exist.")
    return subscription


def load_request(session: Session, request_id: int) -> LoadedRequest:
    request = session.get(SeatChangeRequest, request_id, populate_existing=True)
    if request is None:
        raise NotFound(REQUEST_GONE)
    subscription = get_subscription(session, request.subscription_id)
    return LoadedRequest(request, subscription, get_account(session, subscription.account_id))


def role_of(session: Session, account_id: int, caller: Caller) -> Role | None:
    """The caller's role in the account, or ``None``."""
    role = session.scalars(
        select(Member.role).where(
            Member.account_id == account_id,
            Member.team_id == caller.team_id,
            Member.user_id == caller.user_id,
        )
    ).one_or_none()
    return Role(role) if role is not None else None


def members_with_role(session: Session, account_id: int, role: Role) -> list[Member]:
    return list(
        session.scalars(
            select(Member)
            .where(Member.account_id == account_id, Member.role == role.value)
            .order_by(Member.team_id, Member.user_id)
        )
    )


def owners_in_team(session: Session, account_id: int, team_id: str) -> tuple[str, ...]:
    """The account's owners a user of ``team_id`` can mention (same workspace)."""
    return tuple(
        member.user_id
        for member in members_with_role(session, account_id, Role.OWNER)
        if member.team_id == team_id
    )


def subscriptions_of(session: Session, account_id: int) -> list[Subscription]:
    return list(
        session.scalars(
            select(Subscription)
            .where(Subscription.account_id == account_id)
            .order_by(Subscription.product)
        )
    )


def recent_requests(
    session: Session, account_id: int, limit: int
) -> list[tuple[SeatChangeRequest, Subscription]]:
    """The account's most recent requests with their subscriptions, newest first."""
    rows = session.execute(
        select(SeatChangeRequest, Subscription)
        .join(Subscription, SeatChangeRequest.subscription_id == Subscription.id)
        .where(Subscription.account_id == account_id)
        .order_by(SeatChangeRequest.created_at.desc(), SeatChangeRequest.id.desc())
        .limit(limit)
    ).tuples()
    return list(rows)


def waiting_requests(
    session: Session, account_id: int
) -> list[tuple[SeatChangeRequest, Subscription]]:
    """The account's requests waiting for approval, oldest first."""
    rows = session.execute(
        select(SeatChangeRequest, Subscription)
        .join(Subscription, SeatChangeRequest.subscription_id == Subscription.id)
        .where(
            Subscription.account_id == account_id,
            SeatChangeRequest.status == RequestStatus.PENDING_APPROVAL.value,
        )
        .order_by(SeatChangeRequest.created_at, SeatChangeRequest.id)
    ).tuples()
    return list(rows)


def ledger_of_request(session: Session, request_id: int) -> list[LedgerEntry]:
    return list(
        session.scalars(
            select(LedgerEntry).where(LedgerEntry.request_id == request_id).order_by(LedgerEntry.id)
        )
    )


# -- compare-and-set ----------------------------------------------------------------------------


def execute_update(session: Session, statement: Update) -> int:
    """Run a compare-and-set UPDATE and return how many rows it changed."""
    result = cast(
        "CursorResult[Any]",
        session.execute(statement.execution_options(synchronize_session=False)),
    )
    return result.rowcount


def move_request(
    session: Session,
    request_id: int,
    current: RequestStatus,
    target: RequestStatus,
    *,
    revision: int | None = None,
    **values: Any,
) -> bool:
    """``current`` → ``target`` if the row is still ``current`` (and at ``revision``, when
    given); ``True`` when this call moved it."""
    check_transition(current, target)
    statement = update(SeatChangeRequest).where(
        SeatChangeRequest.id == request_id, SeatChangeRequest.status == current.value
    )
    if revision is not None:
        statement = statement.where(SeatChangeRequest.quote_revision == revision)
    return execute_update(session, statement.values(status=target.value, **values)) == 1


#: The audit trail's name for a move to a status, where it is not ``request.<status>``.
_MOVE_ACTIONS = {RequestStatus.PENDING_APPROVAL: "request.submitted"}


def move_audited(
    session: Session,
    loaded: LoadedRequest,
    current: RequestStatus,
    target: RequestStatus,
    by: Caller | None,
    at: datetime,
    *,
    at_revision: int | None = None,
    decided: bool = False,
    columns: Mapping[str, Any] | None = None,
    **details: Any,
) -> bool:
    """``current`` → ``target`` as :func:`move_request` (at quote revision ``at_revision`` when
    given; stamped ``updated_at`` = ``at``, and decided by ``by`` when ``decided``; with
    ``columns``) and, when this call moved it, its audit event (``request.<target>``; actor
    ``by``, or the system for ``None``): the request, both statuses and ``details``. ``False``
    when the row had moved meanwhile: nothing is written."""
    request = loaded.request
    values = dict(columns or {}, updated_at=at)
    if decided and by is not None:
        values.update(decided_by_team=by.team_id, decided_by_user=by.user_id, decided_at=at)
    if not move_request(session, request.id, current, target, revision=at_revision, **values):
        return False
    action = _MOVE_ACTIONS.get(target, f"request.{target.value}")
    actor = "system" if by is None else by.actor
    moved = {"from": current.value, "to": target.value}
    audit(session, loaded.account.id, actor, action, at, request_id=request.id, **details, **moved)
    return True


def requote_request(
    session: Session,
    request_id: int,
    *,
    revision: int,
    proration: Proration,
    subscription_version: int,
    at: datetime,
    status: RequestStatus = RequestStatus.DRAFT,
) -> bool:
    """Store a new quote on a request still in ``status`` (a draft, or one pending approval)
    at ``revision`` (the revision moves on by one); ``True`` when this call stored it. A
    request applied, cancelled or re-quoted meanwhile is left untouched."""
    return (
        execute_update(
            session,
            update(SeatChangeRequest)
            .where(
                SeatChangeRequest.id == request_id,
                SeatChangeRequest.status == status.value,
                SeatChangeRequest.quote_revision == revision,
            )
            .values(
                quote_revision=revision + 1,
                updated_at=at,
                **quote_columns(proration, subscription_version, at),
            ),
        )
        == 1
    )


def move_subscription_seats(
    session: Session, subscription_id: int, *, version: int, seats: int
) -> bool:
    """Set the seats if the subscription is still at ``version`` (which moves on by one)."""
    return (
        execute_update(
            session,
            update(Subscription)
            .where(Subscription.id == subscription_id, Subscription.version == version)
            .values(seats=seats, version=Subscription.version + 1),
        )
        == 1
    )


# -- writing ------------------------------------------------------------------------------------


def quote_columns(proration: Proration, subscription_version: int, at: datetime) -> dict[str, Any]:
    """The stored-quote columns of a request for ``proration``."""
    return {
        "old_seats": proration.old_quantity,
        "new_seats": proration.new_quantity,
        "quoted_at": at,
        "effective_at": proration.at,
        "quoted_period_start": proration.period.start,
        "quoted_period_end": proration.period.end,
        "quoted_version": subscription_version,
        "quoted_fraction": f"{proration.fraction.numerator}/{proration.fraction.denominator}",
        "quote_lines": json.dumps(
            [
                {
                    "kind": line.kind.value,
                    "quantity": line.quantity,
                    "amount_minor": line.amount.minor,
                }
                for line in proration.lines
            ]
        ),
        "net_minor": proration.net.minor,
        "currency": proration.unit_price.currency,
    }


def stored_lines(request: SeatChangeRequest) -> tuple[ProrationLine, ...]:
    return tuple(
        ProrationLine(
            LineKind(item["kind"]),
            int(item["quantity"]),
            Money(int(item["amount_minor"]), request.currency),
        )
        for item in json.loads(request.quote_lines)
    )


def ledger_key(request: SeatChangeRequest, kind: LineKind) -> str:
    """The unique ledger key of one applied line: derived from the request's own key."""
    return f"{request.idempotency_key}:{kind.value}"


def write_applied_lines(
    session: Session, request: SeatChangeRequest, at: datetime
) -> list[LedgerEntry]:
    """The request's stored lines, appended to the ledger (unique keys: never twice)."""
    entries = [
        LedgerEntry(
            subscription_id=request.subscription_id,
            request_id=request.id,
            kind=line.kind.value,
            quantity=line.quantity,
            amount_minor=line.amount.minor,
            currency=line.amount.currency,
            period_start=request.quoted_period_start,
            period_end=request.quoted_period_end,
            created_at=at,
            idempotency_key=ledger_key(request, line.kind),
        )
        for line in stored_lines(request)
    ]
    session.add_all(entries)
    session.flush()
    return entries


def audit(
    session: Session, account_id: int, actor: str, action: str, at: datetime, **details: Any
) -> None:
    """Append one audit event (``details`` as JSON; never secrets)."""
    session.add(
        AuditEvent(
            account_id=account_id,
            actor=actor,
            action=action,
            details=json.dumps(details, sort_keys=True, default=str),
            at=at,
        )
    )
    session.flush()
