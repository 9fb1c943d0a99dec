"""SQLAlchemy 2 typed models: accounts, members, subscriptions, seat-change requests, the
append-only ledger and audit events. Job runs are in :mod:`billing.jobs.store`, reconciliation
runs in :mod:`billing.reports.store`, the billing hand-off's tables (each account's webhook,
the outbox) in :mod:`billing.events.store`, the platform connections in
:mod:`billing.setup.store`, all on the same :class:`Base`.

Portable on purpose (SQLite and PostgreSQL run the same schema): money is ``BigInteger`` minor
units plus a ``String(3)`` ISO 4217 code, never ``Numeric``; instants are stored in UTC by
:class:`UTCDateTime` and always come back timezone-aware; JSON is ``Text`` written by the code.
"""

from __future__ import annotations

import enum
import json
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from billing.access import Role
from billing.periods import Period
from billing.products import Product
from billing.proration import LedgerKind
from billing.requests import RequestStatus

#: Connection execution option: the transaction only reads. On SQLite it then begins DEFERRED
#: instead of taking the write lock at BEGIN (see ``bot.runtime.db.make_engine``); elsewhere it is
#: ignored.
READ_ONLY_OPTION = "seatbot_read_only"

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def _in_check(column: str, values: type[enum.StrEnum]) -> str:
    listed = ", ".join(f"'{member.value}'" for member in values)
    return f"{column} IN ({listed})"


def json_object(text: str | None) -> dict[str, Any]:
    """A JSON-object text column's value: ``{}`` when it is empty, unreadable or not an
    object."""
    try:
        value = json.loads(text or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


class UTCDateTime(TypeDecorator[datetime]):
    """An instant stored as UTC; reads are always timezone-aware UTC, on every database.

    SQLite keeps no offset, so the UTC wall-clock time is stored and ``UTC`` re-attached on read;
    PostgreSQL stores ``timestamp with time zone``. Naive datetimes are refused on write.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("naive datetimes cannot be stored; pass an aware UTC instant")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base whose metadata names every constraint predictably (for migrations)."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Account(Base):
    """A customer account: one Slack workspace channel, one currency, one time zone."""

    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)  # slug, e.g. "acme"
    display_name: Mapped[str] = mapped_column(String(200))
    currency: Mapped[str] = mapped_column(String(3))
    timezone: Mapped[str] = mapped_column(String(64))  # IANA name
    team_id: Mapped[str] = mapped_column(String(32), index=True)  # Slack workspace
    channel_id: Mapped[str | None] = mapped_column(String(32))
    # Local wall-clock time ("09:00", in ``timezone``) of the daily digest; None sends none.
    digest_at: Mapped[str | None] = mapped_column(String(5))


class Member(Base):
    """A Slack user's role in an account, keyed by Slack ids (never display names)."""

    __tablename__ = "members"
    __table_args__ = (
        UniqueConstraint("account_id", "team_id", "user_id"),
        CheckConstraint(_in_check("role", Role), name="role"),
        Index(None, "team_id", "user_id"),  # the accounts a caller holds a role in
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    team_id: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[str] = mapped_column(String(32))
    role: Mapped[str] = mapped_column(String(16))


class Subscription(Base):
    """Seats of one product for one account; ``version`` moves on every change (for CAS).

    ``initial_seats`` and ``started_at`` record what Seatbot took over: the seat count when the
    subscription was first loaded and the start of that billing period. From then on ``seats``
    equals ``initial_seats`` plus the applied seat changes (``seatbot check`` verifies it).
    """

    __tablename__ = "subscriptions"
    __table_args__ = (
        UniqueConstraint("account_id", "product"),
        CheckConstraint(_in_check("product", Product), name="product"),
        CheckConstraint("seats >= 0", name="seats_not_negative"),
        CheckConstraint("initial_seats >= 0", name="initial_seats_not_negative"),
        CheckConstraint("unit_price_minor >= 0", name="unit_price_not_negative"),
        CheckConstraint("current_period_end > current_period_start", name="period_order"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    product: Mapped[str] = mapped_column(String(32))
    seats: Mapped[int] = mapped_column(Integer)
    initial_seats: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    unit_price_minor: Mapped[int] = mapped_column(BigInteger)  # one seat, one full period
    currency: Mapped[str] = mapped_column(String(3))
    interval: Mapped[str] = mapped_column(String(16))
    anchor: Mapped[date] = mapped_column(Date)
    proration_rule: Mapped[str] = mapped_column(String(16))
    decrease_policy: Mapped[str] = mapped_column(String(16))
    current_period_start: Mapped[datetime] = mapped_column(UTCDateTime())
    current_period_end: Mapped[datetime] = mapped_column(UTCDateTime())
    version: Mapped[int] = mapped_column(Integer, default=1)


class SeatChangeRequest(Base):
    """An owner's request to change a subscription's seats, with the quote they were shown.

    The quote is stored as shown (lines in minor units, period, subscription version); applying
    writes exactly those lines. ``quote_revision`` counts the quotes stored on the request (1 for
    the first, +1 for every re-quote): a prompt's Confirm button carries it, and only a click with
    the stored revision may apply, so nobody applies a quote they were not shown. Every status or
    quote change is a compare-and-set on ``status`` and ``quote_revision``.
    ``idempotency_key`` is minted by the server and the ledger keys of the applied lines derive
    from it.
    """

    __tablename__ = "seat_change_requests"
    __table_args__ = (
        CheckConstraint(_in_check("status", RequestStatus), name="status"),
        CheckConstraint("old_seats >= 0 AND new_seats >= 0", name="seats_not_negative"),
        CheckConstraint("quote_revision >= 1", name="quote_revision_positive"),
        Index(None, "subscription_id", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("subscriptions.id", ondelete="CASCADE"))
    requested_by_team: Mapped[str] = mapped_column(String(32))
    requested_by_user: Mapped[str] = mapped_column(String(32))
    old_seats: Mapped[int] = mapped_column(Integer)
    new_seats: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(20))
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    # The stored quote.
    quote_revision: Mapped[int] = mapped_column(Integer, default=1)
    quoted_at: Mapped[datetime] = mapped_column(UTCDateTime())
    effective_at: Mapped[datetime] = mapped_column(UTCDateTime())  # proration instant
    quoted_period_start: Mapped[datetime] = mapped_column(UTCDateTime())
    quoted_period_end: Mapped[datetime] = mapped_column(UTCDateTime())
    quoted_version: Mapped[int] = mapped_column(Integer)
    quoted_fraction: Mapped[str] = mapped_column(String(64))  # "16/31"
    quote_lines: Mapped[str] = mapped_column(Text)  # JSON list of {kind, quantity, amount_minor}
    net_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    # Decision and outcome.
    decided_by_team: Mapped[str | None] = mapped_column(String(32))
    decided_by_user: Mapped[str | None] = mapped_column(String(32))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    applied_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Approval: when it was submitted, to whom (a JSON list of [team, user]), when it was
    # escalated, and why it was denied.
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    approvers: Mapped[str | None] = mapped_column(Text)
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decision_reason: Mapped[str | None] = mapped_column(Text)
    # Where the change was started (billing.requests.RequestSource), when not by /seats or the form.
    source: Mapped[str | None] = mapped_column(String(16))
    # Where the Slack prompt was posted, so it is updated rather than re-posted.
    slack_channel_id: Mapped[str | None] = mapped_column(String(32))
    slack_message_ts: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    @property
    def quoted_period(self) -> Period:
        """The billing period the stored quote was priced in."""
        return Period(self.quoted_period_start, self.quoted_period_end)


class ApprovalPolicyRow(Base):
    """An account's approval policy (see :class:`billing.approvals.rules.ApprovalPolicy`).
    People are JSON lists of ``[team_id, user_id]``; durations are whole seconds."""

    __tablename__ = "approval_policies"
    __table_args__ = (
        CheckConstraint("increase_over_seats IS NULL OR increase_over_seats >= 0", name="over"),
        CheckConstraint("net_charge_over_minor IS NULL OR net_charge_over_minor >= 0", name="net"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), unique=True
    )
    approvers: Mapped[str] = mapped_column(Text, default="[]")
    channel_id: Mapped[str | None] = mapped_column(String(32))
    require_decrease: Mapped[bool] = mapped_column(default=False)
    increase_over_seats: Mapped[int | None] = mapped_column(Integer)
    net_charge_over_minor: Mapped[int | None] = mapped_column(BigInteger)
    remind_after_s: Mapped[int | None] = mapped_column(Integer)
    escalate_after_s: Mapped[int | None] = mapped_column(Integer)
    escalate_to: Mapped[str] = mapped_column(Text, default="[]")
    expire_after_s: Mapped[int | None] = mapped_column(Integer)


class ApprovalMessage(Base):
    """A Slack message Seatbot posted about a pending request (to an approver, or in the
    approvals channel), so every one of them is stamped with the decision (``chat.update``)."""

    __tablename__ = "approval_messages"
    __table_args__ = (UniqueConstraint("request_id", "channel_id", "ts"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int] = mapped_column(
        ForeignKey("seat_change_requests.id", ondelete="CASCADE"), index=True
    )
    channel_id: Mapped[str] = mapped_column(String(32))
    ts: Mapped[str] = mapped_column(String(32))
    team_id: Mapped[str] = mapped_column(String(32))
    recipient: Mapped[str | None] = mapped_column(String(32))  # user id of a DM
    posted_at: Mapped[datetime] = mapped_column(UTCDateTime())


class LedgerEntry(Base):
    """One append-only ledger line: a signed amount in minor units for a billing period.

    Never updated or deleted. ``idempotency_key`` is unique, so a retried write cannot double.
    """

    __tablename__ = "ledger_entries"
    __table_args__ = (CheckConstraint(_in_check("kind", LedgerKind), name="kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subscription_id: Mapped[int] = mapped_column(
        ForeignKey("subscriptions.id", ondelete="RESTRICT"), index=True
    )
    request_id: Mapped[int | None] = mapped_column(
        ForeignKey("seat_change_requests.id", ondelete="RESTRICT"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))
    quantity: Mapped[int] = mapped_column(Integer)
    amount_minor: Mapped[int] = mapped_column(BigInteger)  # signed: credits are negative
    currency: Mapped[str] = mapped_column(String(3))
    period_start: Mapped[datetime] = mapped_column(UTCDateTime())
    period_end: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    idempotency_key: Mapped[str] = mapped_column(String(120), unique=True)


#: The audit action of an account's first load: when it was loaded (a newly loaded account gets
#: no digest for a time before it: :func:`billing.jobs.rules.due_days`).
ACCOUNT_CREATED = "account.created"


class AuditEvent(Base):
    """Append-only record of who did what to an account (``actor`` is ``slack:T…:U…``,
    ``cli`` or ``system``); ``details`` is JSON text without secrets."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(64))
    details: Mapped[str] = mapped_column(Text, default="{}")
    at: Mapped[datetime] = mapped_column(UTCDateTime())
