"""The seat service: quote, request, confirm and apply seat changes, exactly once.

Synchronous code over short transactions (the async Slack edge calls it with
``asyncio.to_thread``). Time is always passed in (``at``: an aware instant, stored as UTC); the
service never reads the clock. It hands out frozen views (:mod:`billing.views`), never ORM
objects.

Exactly once. A request is applied by compare-and-set updates inside one transaction:
``UPDATE seat_change_requests SET status='applied' WHERE id=? AND status='approved'``,
``UPDATE subscriptions SET seats=?, version=version+1 WHERE id=? AND version=?`` and ledger
inserts whose unique keys derive from the request's server-minted idempotency key. A second
confirmation finds the request applied and returns the first result; a concurrent change of
the same subscription makes the version CAS match nothing, and the transaction is rolled back
rather than overwriting. ``SELECT ... FOR UPDATE`` is never used (SQLite ignores it).

Renewal. Before a request is created or applied, a subscription whose stored current period
ended at or before ``at`` is advanced one period at a time, each advance a version CAS plus one
``renewal`` ledger entry (seats × unit price for the new period, billed in advance) keyed by the
subscription and the period start, so a renewal is written once whoever triggers it. Advancing
moves the version, so quotes made in the old period become stale. The period a subscription
was loaded in is not billed by Seatbot (it was billed before Seatbot took over).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from fractions import Fraction
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import CursorResult, Update, select, update
from sqlalchemy.orm import Session, sessionmaker

from billing.errors import (
    InvalidSeatCount,
    InvalidTransition,
    NotAuthorised,
    NotFound,
    QuoteUnavailable,
)
from billing.models import (
    READ_ONLY_OPTION,
    Account,
    AuditEvent,
    LedgerEntry,
    LedgerKind,
    Member,
    Role,
    SeatChangeRequest,
    Subscription,
)
from billing.money import Money
from billing.periods import Interval, Period, PeriodError, period_at, zone
from billing.products import MAX_SEATS, Product
from billing.proration import (
    DecreasePolicy,
    LineKind,
    ProrationError,
    ProrationLine,
    ProrationRule,
    prorate_quantity_change,
)
from billing.requests import OPEN_STATUSES, RequestStatus, check_transition
from billing.views import (
    AccountView,
    ConfirmKind,
    ConfirmOutcome,
    LedgerLineView,
    MemberView,
    Quote,
    SeatChangeView,
    SubscriptionView,
)

__all__ = [
    "MAX_SEATS",
    "AccountView",
    "ConfirmKind",
    "ConfirmOutcome",
    "LedgerLineView",
    "MemberView",
    "Quote",
    "SeatChangeView",
    "SeatService",
    "SubscriptionView",
    "actor_for",
]

DEFAULT_QUOTE_TTL = timedelta(minutes=10)


def actor_for(team_id: str, user_id: str) -> str:
    """The audit actor for a Slack user: ``slack:T…:U…`` (ids, never display names)."""
    return f"slack:{team_id}:{user_id}"


class _StatusMoved(Exception):
    """The request's status changed under us (another confirmation won the CAS)."""


class _VersionConflict(Exception):
    """The subscription's version changed under us (another change won the CAS)."""


@dataclass(frozen=True)
class _Loaded:
    request: SeatChangeRequest
    subscription: Subscription
    account: Account


class SeatService:
    """Seat changes for the Slack edge and the CLI.

    ``session_factory`` makes sessions on an engine from :func:`bot.db.make_engine`;
    ``quote_ttl`` is how long a stored quote may be confirmed before it is re-quoted.
    """

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        *,
        quote_ttl: timedelta = DEFAULT_QUOTE_TTL,
    ) -> None:
        if quote_ttl <= timedelta(0):
            raise ValueError("quote_ttl must be positive")
        self._sessions = session_factory
        self._quote_ttl = quote_ttl

    # -- transactions -------------------------------------------------------------------------

    @contextmanager
    def _read(self) -> Iterator[Session]:
        with self._sessions() as session:
            read_only: dict[str, Any] = {READ_ONLY_OPTION: True}
            session.connection(execution_options=read_only)
            yield session

    @contextmanager
    def _write(self) -> Iterator[Session]:
        with self._sessions.begin() as session:
            yield session

    # -- accounts and members ------------------------------------------------------------------

    def accounts_for_team(self, team_id: str) -> list[AccountView]:
        """The accounts a Slack workspace may see, by name."""
        with self._read() as session:
            rows = session.scalars(
                select(Account).where(Account.team_id == team_id).order_by(Account.name)
            )
            return [_account_view(row) for row in rows]

    def account_by_name(self, name: str) -> AccountView | None:
        """The account with this slug name, if any."""
        with self._read() as session:
            row = session.scalars(select(Account).where(Account.name == name)).one_or_none()
            return _account_view(row) if row is not None else None

    def all_accounts(self) -> list[AccountView]:
        """Every account, by name (for the operator's CLI)."""
        with self._read() as session:
            return [_account_view(row) for row in session.scalars(select(Account).order_by("name"))]

    def role_of(self, account_id: int, team_id: str, user_id: str) -> Role | None:
        """The role of the Slack user ``team_id``/``user_id`` in the account, or ``None``."""
        with self._read() as session:
            return _role_of(session, account_id, team_id, user_id)

    def members_with_role(self, account_id: int, role: Role) -> list[MemberView]:
        """The account's members holding ``role``, ordered by Slack ids."""
        with self._read() as session:
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
        with self._read() as session:
            account = _get_account(session, account_id)
            rows = session.scalars(
                select(Subscription)
                .where(Subscription.account_id == account_id)
                .order_by(Subscription.product)
            )
            tz = zone(account.timezone)
            return [
                _subscription_view(row, period_at(row.anchor, Interval(row.interval), at, tz))
                for row in rows
            ]

    def quote(self, subscription_id: int, new_seats: int, at: datetime) -> Quote:
        """Preview changing the subscription to ``new_seats`` at ``at`` (nothing is stored).

        Raises :class:`InvalidSeatCount` for a negative, too large or unchanged count.
        """
        _require_aware(at)
        with self._read() as session:
            subscription = _get_subscription(session, subscription_id)
            account = _get_account(session, subscription.account_id)
            _check_seat_count(new_seats, subscription.seats)
            tz = zone(account.timezone)
            period = period_at(subscription.anchor, Interval(subscription.interval), at, tz)
            return _make_quote(subscription, new_seats, at, period, tz)

    # -- requests -----------------------------------------------------------------------------

    def create_request(
        self,
        subscription_id: int,
        new_seats: int,
        *,
        team_id: str,
        user_id: str,
        reason: str,
        at: datetime,
    ) -> SeatChangeView:
        """Create a draft seat-change request with its quote stored, for the owner to confirm.

        Only an owner of the subscription's account may create one (:class:`NotAuthorised`);
        the idempotency key is minted here. Renews the subscription first if its period ended.
        """
        _require_aware(at)
        with self._write() as session:
            subscription = _get_subscription(session, subscription_id)
            account = _get_account(session, subscription.account_id)
            if _role_of(session, account.id, team_id, user_id) is not Role.OWNER:
                raise NotAuthorised(
                    f"Only an owner of {account.display_name} can request a seat change."
                )
            _check_seat_count(new_seats, subscription.seats)
            self._renew(session, subscription, account, at)
            subscription = _get_subscription(session, subscription_id)
            quote = _make_quote(
                subscription, new_seats, at, _stored_period(subscription), _tz(account)
            )
            request = SeatChangeRequest(
                subscription_id=subscription.id,
                requested_by_team=team_id,
                requested_by_user=user_id,
                reason=reason.strip(),
                status=RequestStatus.DRAFT.value,
                idempotency_key=f"scr_{secrets.token_hex(16)}",
                created_at=at,
                updated_at=at,
                new_seats=new_seats,
            )
            _store_quote(request, quote, at)
            session.add(request)
            session.flush()
            _audit(
                session,
                account.id,
                actor_for(team_id, user_id),
                "request.created",
                at,
                request_id=request.id,
                product=subscription.product,
                old_seats=request.old_seats,
                new_seats=new_seats,
                net_minor=request.net_minor,
                currency=request.currency,
            )
            return _request_view(request, subscription)

    def confirm(
        self,
        request_id: int,
        *,
        team_id: str,
        user_id: str,
        at: datetime,
        platform_check_passed: bool,
    ) -> ConfirmOutcome:
        """The owner confirms their draft request: apply it now, exactly once.

        ``platform_check_passed`` says that the platform showed few enough users for the new
        count (the decrease guard); a decrease without it is refused. A quote older than the
        quote TTL, from an ended period, or made before the subscription changed is re-quoted in
        place and returned as ``stale`` (confirm again). Without an approval policy the request
        goes draft → approved → applied in one transaction.
        """
        _require_aware(at)
        actor = actor_for(team_id, user_id)
        try:
            with self._write() as session:
                return self._confirm(
                    session, request_id, team_id, user_id, actor, at, platform_check_passed
                )
        except _StatusMoved:
            # Another confirmation won the status CAS; report what it did.
            return self._settled_outcome(request_id)
        except _VersionConflict:
            return self._conflict_outcome(request_id, actor, at)

    def _confirm(
        self,
        session: Session,
        request_id: int,
        team_id: str,
        user_id: str,
        actor: str,
        at: datetime,
        platform_check_passed: bool,
    ) -> ConfirmOutcome:
        loaded = _load_request(session, request_id)
        request, account = loaded.request, loaded.account
        if (request.requested_by_team, request.requested_by_user) != (team_id, user_id):
            raise NotAuthorised("Only the owner who asked for this seat change can confirm it.")
        if _role_of(session, account.id, team_id, user_id) is not Role.OWNER:
            raise NotAuthorised(f"You are no longer an owner of {account.display_name}.")
        status = RequestStatus(request.status)
        if status is not RequestStatus.DRAFT:
            return _settled(session, loaded)
        self._renew(session, loaded.subscription, account, at)
        subscription = _get_subscription(session, request.subscription_id)
        stale_reason = self._stale_reason(request, subscription, at)
        if stale_reason is not None:
            return self._requote(
                session, request, subscription, account, actor, at, stale_reason, ConfirmKind.STALE
            )
        if request.new_seats < request.old_seats and not platform_check_passed:
            _audit(
                session,
                account.id,
                actor,
                "request.refused",
                at,
                request_id=request.id,
                reason="platform_check",
            )
            return ConfirmOutcome(
                ConfirmKind.REFUSED,
                _request_view(request, subscription),
                message=(
                    "Seatbot could not confirm that few enough users exist on "
                    f"{_product_label(subscription.product)} for {request.new_seats} seats. "
                    "Delete the extra users on the platform first, then check again."
                ),
            )
        # Manager approval (a later issue) slots in here: route draft → pending_approval and
        # return; the approval then calls _approve_and_apply from pending_approval.
        return self._approve_and_apply(
            session,
            request,
            subscription,
            account,
            RequestStatus.DRAFT,
            team_id,
            user_id,
            actor,
            at,
        )

    def _approve_and_apply(
        self,
        session: Session,
        request: SeatChangeRequest,
        subscription: Subscription,
        account: Account,
        from_status: RequestStatus,
        team_id: str,
        user_id: str,
        actor: str,
        at: datetime,
    ) -> ConfirmOutcome:
        """``from_status`` → approved → applied, in the caller's transaction."""
        check_transition(from_status, RequestStatus.APPROVED)
        _cas_status(
            session,
            request.id,
            from_status,
            RequestStatus.APPROVED,
            decided_by_team=team_id,
            decided_by_user=user_id,
            decided_at=at,
            updated_at=at,
        )
        _audit(session, account.id, actor, "request.approved", at, request_id=request.id)
        lines = self._apply(session, request, subscription, account, actor, at)
        session.refresh(request)
        fresh_subscription = _get_subscription(session, subscription.id)
        return ConfirmOutcome(
            ConfirmKind.APPLIED,
            _request_view(request, fresh_subscription),
            ledger_lines=tuple(_ledger_view(line, subscription) for line in lines),
        )

    def _apply(
        self,
        session: Session,
        request: SeatChangeRequest,
        subscription: Subscription,
        account: Account,
        actor: str,
        at: datetime,
    ) -> list[LedgerEntry]:
        """Apply an approved request: both CAS updates and the ledger lines, or nothing."""
        _cas_status(
            session,
            request.id,
            RequestStatus.APPROVED,
            RequestStatus.APPLIED,
            applied_at=at,
            updated_at=at,
        )
        moved = _execute_update(
            session,
            update(Subscription)
            .where(
                Subscription.id == subscription.id, Subscription.version == request.quoted_version
            )
            .values(seats=request.new_seats, version=Subscription.version + 1),
        )
        if moved != 1:
            raise _VersionConflict
        entries = [
            LedgerEntry(
                subscription_id=subscription.id,
                request_id=request.id,
                kind=line.kind.value,
                quantity=line.quantity,
                amount_minor=line.amount.minor,
                currency=line.amount.currency,
                period_start=request.quoted_period_start,
                period_end=request.quoted_period_end,
                created_at=at,
                idempotency_key=f"{request.idempotency_key}:{line.kind.value}",
            )
            for line in _stored_lines(request)
        ]
        session.add_all(entries)
        session.flush()
        _audit(
            session,
            account.id,
            actor,
            "request.applied",
            at,
            request_id=request.id,
            product=subscription.product,
            old_seats=request.old_seats,
            new_seats=request.new_seats,
            net_minor=request.net_minor,
            currency=request.currency,
            ledger_keys=[entry.idempotency_key for entry in entries],
        )
        return entries

    def _stale_reason(
        self, request: SeatChangeRequest, subscription: Subscription, at: datetime
    ) -> str | None:
        if subscription.version != request.quoted_version:
            return "The subscription changed since this quote; here is the updated price."
        if not request.quoted_period_start <= at < request.quoted_period_end:
            return "A new billing period started since this quote; here is the updated price."
        if at - request.quoted_at > self._quote_ttl:
            return "This quote expired; here is the updated price."
        return None

    def _requote(
        self,
        session: Session,
        request: SeatChangeRequest,
        subscription: Subscription,
        account: Account,
        actor: str,
        at: datetime,
        message: str,
        kind: ConfirmKind,
    ) -> ConfirmOutcome:
        """Re-quote a draft in place against the subscription as it is now."""
        if request.new_seats == subscription.seats:
            _cas_status(
                session, request.id, RequestStatus.DRAFT, RequestStatus.CANCELLED, updated_at=at
            )
            _audit(
                session,
                account.id,
                actor,
                "request.cancelled",
                at,
                request_id=request.id,
                reason="no_change",
            )
            session.refresh(request)
            return ConfirmOutcome(
                ConfirmKind.REFUSED,
                _request_view(request, subscription),
                message=(
                    f"The subscription already has {subscription.seats} seats; nothing to change."
                ),
            )
        quote = _make_quote(
            subscription, request.new_seats, at, _stored_period(subscription), _tz(account)
        )
        _store_quote(request, quote, at)
        request.updated_at = at
        session.flush()
        _audit(
            session,
            account.id,
            actor,
            "request.requoted",
            at,
            request_id=request.id,
            cause=kind.value,
            old_seats=request.old_seats,
            net_minor=request.net_minor,
        )
        return ConfirmOutcome(
            kind, _request_view(request, subscription), fresh_quote=quote, message=message
        )

    def _settled_outcome(self, request_id: int) -> ConfirmOutcome:
        with self._read() as session:
            return _settled(session, _load_request(session, request_id))

    def _conflict_outcome(self, request_id: int, actor: str, at: datetime) -> ConfirmOutcome:
        with self._write() as session:
            loaded = _load_request(session, request_id)
            if RequestStatus(loaded.request.status) is not RequestStatus.DRAFT:
                return _settled(session, loaded)
            self._renew(session, loaded.subscription, loaded.account, at)
            subscription = _get_subscription(session, loaded.subscription.id)
            return self._requote(
                session,
                loaded.request,
                subscription,
                loaded.account,
                actor,
                at,
                "Another seat change landed at the same moment; here is the updated price.",
                ConfirmKind.CONFLICT,
            )

    def cancel(
        self, request_id: int, *, team_id: str, user_id: str, at: datetime
    ) -> SeatChangeView:
        """Withdraw an open request (draft or pending approval). The requester or any owner of
        the account may; cancelling a cancelled request returns it unchanged."""
        _require_aware(at)
        with self._write() as session:
            loaded = _load_request(session, request_id)
            request = loaded.request
            is_requester = (request.requested_by_team, request.requested_by_user) == (
                team_id,
                user_id,
            )
            if (
                not is_requester
                and _role_of(session, loaded.account.id, team_id, user_id) is not Role.OWNER
            ):
                raise NotAuthorised("Only the requester or an owner can cancel this seat change.")
            status = RequestStatus(request.status)
            if status is RequestStatus.CANCELLED:
                return _request_view(request, loaded.subscription)
            if status not in OPEN_STATUSES:
                check_transition(status, RequestStatus.CANCELLED)
            moved = _execute_update(
                session,
                update(SeatChangeRequest)
                .where(SeatChangeRequest.id == request.id, SeatChangeRequest.status == status.value)
                .values(status=RequestStatus.CANCELLED.value, updated_at=at),
            )
            if moved != 1:
                raise InvalidTransition("This seat change was just decided elsewhere; look again.")
            _audit(
                session,
                loaded.account.id,
                actor_for(team_id, user_id),
                "request.cancelled",
                at,
                request_id=request.id,
            )
            session.refresh(request)
            return _request_view(request, loaded.subscription)

    def set_message_ref(self, request_id: int, *, channel_id: str, ts: str) -> SeatChangeView:
        """Remember where the request's Slack prompt was posted (to ``chat.update`` it later)."""
        with self._write() as session:
            loaded = _load_request(session, request_id)
            loaded.request.slack_channel_id = channel_id
            loaded.request.slack_message_ts = ts
            session.flush()
            return _request_view(loaded.request, loaded.subscription)

    def get_request(self, request_id: int) -> SeatChangeView:
        """The request, or :class:`NotFound`."""
        with self._read() as session:
            loaded = _load_request(session, request_id)
            return _request_view(loaded.request, loaded.subscription)

    def history(self, account_id: int, limit: int = 10) -> list[SeatChangeView]:
        """The account's most recent requests, newest first."""
        with self._read() as session:
            rows = session.execute(
                select(SeatChangeRequest, Subscription)
                .join(Subscription, SeatChangeRequest.subscription_id == Subscription.id)
                .where(Subscription.account_id == account_id)
                .order_by(SeatChangeRequest.created_at.desc(), SeatChangeRequest.id.desc())
                .limit(limit)
            ).tuples()
            return [_request_view(request, subscription) for request, subscription in rows]

    def ledger(self, account_id: int) -> list[LedgerLineView]:
        """Every ledger entry of the account's subscriptions, in the order written."""
        with self._read() as session:
            rows = session.execute(
                select(LedgerEntry, Subscription)
                .join(Subscription, LedgerEntry.subscription_id == Subscription.id)
                .where(Subscription.account_id == account_id)
                .order_by(LedgerEntry.id)
            ).tuples()
            return [_ledger_view(entry, subscription) for entry, subscription in rows]

    def renew(self, subscription_id: int, at: datetime) -> list[LedgerLineView]:
        """Advance the subscription's stored period up to ``at``; return the renewal entries
        written now (none when it is current or another process already renewed it)."""
        _require_aware(at)
        with self._write() as session:
            subscription = _get_subscription(session, subscription_id)
            account = _get_account(session, subscription.account_id)
            entries = self._renew(session, subscription, account, at)
            return [_ledger_view(entry, subscription) for entry in entries]

    def _renew(
        self, session: Session, subscription: Subscription, account: Account, at: datetime
    ) -> list[LedgerEntry]:
        tz = _tz(account)
        written: list[LedgerEntry] = []
        while True:
            current = _get_subscription(session, subscription.id)
            if at < current.current_period_end:
                return written
            following = period_at(
                current.anchor, Interval(current.interval), current.current_period_end, tz
            )
            moved = _execute_update(
                session,
                update(Subscription)
                .where(Subscription.id == current.id, Subscription.version == current.version)
                .values(
                    current_period_start=following.start,
                    current_period_end=following.end,
                    version=Subscription.version + 1,
                ),
            )
            if moved != 1:
                continue  # renewed or changed by another process meanwhile: read again
            entry = LedgerEntry(
                subscription_id=current.id,
                request_id=None,
                kind=LedgerKind.RENEWAL.value,
                quantity=current.seats,
                amount_minor=current.seats * current.unit_price_minor,
                currency=current.currency,
                period_start=following.start,
                period_end=following.end,
                created_at=at,
                idempotency_key=f"renewal:{current.id}:{following.start.isoformat()}",
            )
            session.add(entry)
            session.flush()
            _audit(
                session,
                account.id,
                "system",
                "subscription.renewed",
                at,
                subscription_id=current.id,
                period_start=following.start.isoformat(),
                seats=current.seats,
                amount_minor=entry.amount_minor,
            )
            written.append(entry)


# -- helpers ----------------------------------------------------------------------------------


def _require_aware(at: datetime) -> None:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("the service needs timezone-aware instants")


def _tz(account: Account) -> ZoneInfo:
    return zone(account.timezone)


def _product_label(product: str) -> str:
    return {
        Product.CONTACT_CENTER.value: "Contact Center",
        Product.AXIOM.value: "Axiom",
        Product.MATRIX.value: "Matrix",
    }.get(product, product)


def _check_seat_count(new_seats: int, current: int) -> None:
    if isinstance(new_seats, bool) or not isinstance(new_seats, int):
        raise InvalidSeatCount("The number of seats must be a whole number.")
    if new_seats < 0:
        raise InvalidSeatCount("The number of seats cannot be negative.")
    if new_seats > MAX_SEATS:
        raise InvalidSeatCount(f"At most {MAX_SEATS:,} seats can be requested.")
    if new_seats == current:
        raise InvalidSeatCount(f"The subscription already has {current} seats.")


def _execute_update(session: Session, statement: Update) -> int:
    """Run a compare-and-set UPDATE and return how many rows it changed."""
    result = cast(
        "CursorResult[Any]",
        session.execute(statement.execution_options(synchronize_session=False)),
    )
    return result.rowcount


def _cas_status(
    session: Session,
    request_id: int,
    current: RequestStatus,
    target: RequestStatus,
    **values: Any,
) -> None:
    check_transition(current, target)
    moved = _execute_update(
        session,
        update(SeatChangeRequest)
        .where(SeatChangeRequest.id == request_id, SeatChangeRequest.status == current.value)
        .values(status=target.value, **values),
    )
    if moved != 1:
        raise _StatusMoved


def _get_account(session: Session, account_id: int) -> Account:
    account = session.get(Account, account_id, populate_existing=True)
    if account is None:
        raise NotFound("That account does not exist.")
    return account


def _get_subscription(session: Session, subscription_id: int) -> Subscription:
    subscription = session.get(Subscription, subscription_id, populate_existing=True)
    if subscription is None:
        raise NotFound("That subscription does not exist.")
    return subscription


def _load_request(session: Session, request_id: int) -> _Loaded:
    request = session.get(SeatChangeRequest, request_id, populate_existing=True)
    if request is None:
        raise NotFound("That seat change does not exist.")
    subscription = _get_subscription(session, request.subscription_id)
    return _Loaded(request, subscription, _get_account(session, subscription.account_id))


def _role_of(session: Session, account_id: int, team_id: str, user_id: str) -> Role | None:
    role = session.scalars(
        select(Member.role).where(
            Member.account_id == account_id,
            Member.team_id == team_id,
            Member.user_id == user_id,
        )
    ).one_or_none()
    return Role(role) if role is not None else None


def _stored_period(subscription: Subscription) -> Period:
    return Period(subscription.current_period_start, subscription.current_period_end)


def _make_quote(
    subscription: Subscription, new_seats: int, at: datetime, period: Period, tz: ZoneInfo
) -> Quote:
    try:
        proration = prorate_quantity_change(
            old_quantity=subscription.seats,
            new_quantity=new_seats,
            unit_price=Money(subscription.unit_price_minor, subscription.currency),
            period=period,
            at=at,
            rule=ProrationRule(subscription.proration_rule),
            decrease_policy=DecreasePolicy(subscription.decrease_policy),
            tz=tz,
        )
    except (ProrationError, PeriodError) as exc:
        raise QuoteUnavailable(
            "This change cannot be priced at that time: it falls outside the subscription's "
            "current billing period."
        ) from exc
    return Quote(
        subscription=_subscription_view(subscription, period),
        proration=proration,
        is_decrease=new_seats < subscription.seats,
    )


def _store_quote(request: SeatChangeRequest, quote: Quote, at: datetime) -> None:
    proration = quote.proration
    request.old_seats = proration.old_quantity
    request.quoted_at = at
    request.effective_at = proration.at
    request.quoted_period_start = proration.period.start
    request.quoted_period_end = proration.period.end
    request.quoted_version = quote.subscription.version
    request.quoted_fraction = f"{proration.fraction.numerator}/{proration.fraction.denominator}"
    request.quote_lines = json.dumps(
        [
            {"kind": line.kind.value, "quantity": line.quantity, "amount_minor": line.amount.minor}
            for line in proration.lines
        ]
    )
    request.net_minor = proration.net.minor
    request.currency = proration.unit_price.currency


def _stored_lines(request: SeatChangeRequest) -> tuple[ProrationLine, ...]:
    return tuple(
        ProrationLine(
            LineKind(item["kind"]),
            int(item["quantity"]),
            Money(int(item["amount_minor"]), request.currency),
        )
        for item in json.loads(request.quote_lines)
    )


def _audit(
    session: Session, account_id: int, actor: str, action: str, at: datetime, **details: Any
) -> None:
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


def _settled(session: Session, loaded: _Loaded) -> ConfirmOutcome:
    """The outcome for a request that is no longer a draft."""
    request, subscription = loaded.request, loaded.subscription
    status = RequestStatus(request.status)
    view = _request_view(request, subscription)
    if status is RequestStatus.APPLIED:
        entries = session.scalars(
            select(LedgerEntry).where(LedgerEntry.request_id == request.id).order_by(LedgerEntry.id)
        )
        return ConfirmOutcome(
            ConfirmKind.ALREADY_APPLIED,
            view,
            ledger_lines=tuple(_ledger_view(entry, subscription) for entry in entries),
            message="This seat change was already applied.",
        )
    messages = {
        RequestStatus.PENDING_APPROVAL: "This seat change is waiting for a manager's approval.",
        RequestStatus.APPROVED: "This seat change is approved and being applied.",
        RequestStatus.DENIED: "This seat change was denied.",
        RequestStatus.CANCELLED: "This seat change was cancelled.",
        RequestStatus.EXPIRED: "This seat change expired; request it again.",
        RequestStatus.FAILED: "This seat change could not be applied; request it again.",
    }
    return ConfirmOutcome(
        ConfirmKind.REFUSED, view, message=messages.get(status, "Nothing to confirm.")
    )


def _account_view(row: Account) -> AccountView:
    return AccountView(
        id=row.id,
        name=row.name,
        display_name=row.display_name,
        currency=row.currency,
        timezone=row.timezone,
        team_id=row.team_id,
        channel_id=row.channel_id,
    )


def _subscription_view(row: Subscription, period: Period) -> SubscriptionView:
    return SubscriptionView(
        id=row.id,
        account_id=row.account_id,
        product=Product(row.product),
        seats=row.seats,
        unit_price=Money(row.unit_price_minor, row.currency),
        interval=Interval(row.interval),
        anchor=row.anchor,
        rule=ProrationRule(row.proration_rule),
        decrease_policy=DecreasePolicy(row.decrease_policy),
        version=row.version,
        period=period,
    )


def _request_view(row: SeatChangeRequest, subscription: Subscription) -> SeatChangeView:
    fraction = Fraction(row.quoted_fraction)
    return SeatChangeView(
        id=row.id,
        account_id=subscription.account_id,
        subscription_id=row.subscription_id,
        product=Product(subscription.product),
        old_seats=row.old_seats,
        new_seats=row.new_seats,
        reason=row.reason,
        status=RequestStatus(row.status),
        idempotency_key=row.idempotency_key,
        requested_by_team=row.requested_by_team,
        requested_by_user=row.requested_by_user,
        quoted_at=row.quoted_at,
        effective_at=row.effective_at,
        period=Period(row.quoted_period_start, row.quoted_period_end),
        quoted_version=row.quoted_version,
        fraction=f"{fraction.numerator}/{fraction.denominator}",
        lines=_stored_lines(row),
        net=Money(row.net_minor, row.currency),
        decided_by_team=row.decided_by_team,
        decided_by_user=row.decided_by_user,
        decided_at=row.decided_at,
        applied_at=row.applied_at,
        slack_channel_id=row.slack_channel_id,
        slack_message_ts=row.slack_message_ts,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _ledger_view(entry: LedgerEntry, subscription: Subscription) -> LedgerLineView:
    return LedgerLineView(
        id=entry.id,
        subscription_id=entry.subscription_id,
        product=Product(subscription.product),
        request_id=entry.request_id,
        kind=LedgerKind(entry.kind),
        quantity=entry.quantity,
        amount=Money(entry.amount_minor, entry.currency),
        period_start=entry.period_start,
        period_end=entry.period_end,
        created_at=entry.created_at,
        idempotency_key=entry.idempotency_key,
    )
