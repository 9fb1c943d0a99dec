"""the billing hand-off: webhooks and the outbox

Revision ID: 0006_webhook_outbox
Revises: 0005_reports
Create Date: 2026-11-30

``billing_webhooks`` holds each account's webhook (URL and the Fernet ciphertext of its
Standard Webhooks secret); ``outbox_events`` the billing events, written in the transaction of
the change they record and delivered by ``seatbot serve`` (see ``billing.events.store``).

Changes applied and periods renewed before this revision get their event too, so that
``seatbot check`` finds every applied change's event; they are stored as ``skipped``, not sent:
they were billed before the hand-off existed (``seatbot webhooks retry ID`` sends one).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from billing.events.rules import (
    EventLine,
    EventSubject,
    EventType,
    WebhookEvent,
    change_event,
    renewal_event,
)
from billing.money import Money

revision: str = "0006_webhook_outbox"
down_revision: str | None = "0005_reports"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_STATUSES = "status IN ('pending', 'sent', 'failed', 'skipped')"


def upgrade() -> None:
    op.create_table(
        "billing_webhooks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("secret_encrypted", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_billing_webhooks_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_billing_webhooks")),
        sa.UniqueConstraint("account_id", name=op.f("uq_billing_webhooks_account_id")),
    )
    op.create_table(
        "outbox_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("webhook_id", sa.String(length=64), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=False),
        sa.Column("event_type", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("owners_notified_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(_STATUSES, name=op.f("ck_outbox_events_status")),
        sa.CheckConstraint("attempts >= 0", name=op.f("ck_outbox_events_attempts_not_negative")),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_outbox_events_account_id_accounts"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["seat_change_requests.id"],
            name=op.f("fk_outbox_events_request_id_seat_change_requests"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_events")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_outbox_events_idempotency_key")),
        sa.UniqueConstraint("webhook_id", name=op.f("uq_outbox_events_webhook_id")),
    )
    op.create_index(
        op.f("ix_outbox_events_account_id"), "outbox_events", ["account_id"], unique=False
    )
    op.create_index(
        op.f("ix_outbox_events_request_id"), "outbox_events", ["request_id"], unique=False
    )
    op.create_index(
        op.f("ix_outbox_events_status"),
        "outbox_events",
        ["status", "next_attempt_at"],
        unique=False,
    )
    _backfill()


def downgrade() -> None:
    op.drop_index(op.f("ix_outbox_events_status"), table_name="outbox_events")
    op.drop_index(op.f("ix_outbox_events_request_id"), table_name="outbox_events")
    op.drop_index(op.f("ix_outbox_events_account_id"), table_name="outbox_events")
    op.drop_table("outbox_events")
    op.drop_table("billing_webhooks")


# -- the events of what happened before --------------------------------------------------------

_Instant = sa.DateTime(timezone=True)
_accounts = sa.table("accounts", sa.column("id", sa.Integer()), sa.column("name", sa.String()))
_subscriptions = sa.table(
    "subscriptions",
    sa.column("id", sa.Integer()),
    sa.column("account_id", sa.Integer()),
    sa.column("product", sa.String()),
)
_requests = sa.table(
    "seat_change_requests",
    *(sa.column(name, sa.Integer()) for name in ("id", "subscription_id", "old_seats")),
    sa.column("new_seats", sa.Integer()),
    *(
        sa.column(name, sa.String())
        for name in (
            "status",
            "idempotency_key",
            "currency",
            "requested_by_team",
            "requested_by_user",
            "decided_by_team",
            "decided_by_user",
        )
    ),
    *(
        sa.column(name, _Instant)
        for name in (
            "effective_at",
            "quoted_period_start",
            "quoted_period_end",
            "applied_at",
            "updated_at",
        )
    ),
)
_ledger = sa.table(
    "ledger_entries",
    *(sa.column(name, sa.Integer()) for name in ("id", "subscription_id", "request_id")),
    sa.column("quantity", sa.Integer()),
    sa.column("amount_minor", sa.BigInteger()),
    *(sa.column(name, sa.String()) for name in ("kind", "currency", "idempotency_key")),
    *(sa.column(name, _Instant) for name in ("period_start", "period_end", "created_at")),
)
_outbox = sa.table(
    "outbox_events",
    *(sa.column(name, sa.Integer()) for name in ("account_id", "request_id", "attempts")),
    *(
        sa.column(name, sa.String())
        for name in ("webhook_id", "idempotency_key", "event_type", "body", "status")
    ),
    *(sa.column(name, _Instant) for name in ("occurred_at", "next_attempt_at")),
)


def _utc(value: datetime) -> datetime:
    # SQLite hands back the stored UTC wall-clock time without an offset.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _line(row: sa.Row[tuple[object, ...]]) -> EventLine:
    entry = row._mapping
    return EventLine(
        str(entry["kind"]),
        int(entry["quantity"]),
        Money(int(entry["amount_minor"]), str(entry["currency"])),
        _utc(entry["period_start"]),
        _utc(entry["period_end"]),
        str(entry["idempotency_key"]),
    )


def _backfill() -> None:
    bind = op.get_bind()
    owner = sa.select(
        _subscriptions.c.id, _subscriptions.c.product, _accounts.c.id, _accounts.c.name
    )
    owners = {
        sub_id: (product, account_id, name)
        for sub_id, product, account_id, name in bind.execute(
            owner.join(_accounts, _accounts.c.id == _subscriptions.c.account_id)
        )
    }
    events: list[WebhookEvent] = []
    for request in bind.execute(
        sa.select(_requests).where(_requests.c.status == "applied").order_by(_requests.c.id)
    ).mappings():
        product, account_id, name = owners[request["subscription_id"]]
        lines = [
            _line(row)
            for row in bind.execute(
                sa.select(_ledger)
                .where(_ledger.c.request_id == request["id"])
                .order_by(_ledger.c.id)
            )
        ]
        events.append(
            change_event(
                EventType.SEAT_CHANGE_APPLIED.value,
                EventSubject(account_id, name, product, request["subscription_id"]),
                request_id=request["id"],
                request_key=request["idempotency_key"],
                old_seats=request["old_seats"],
                new_seats=request["new_seats"],
                effective_at=_utc(request["effective_at"]),
                period_start=_utc(request["quoted_period_start"]),
                period_end=_utc(request["quoted_period_end"]),
                currency=request["currency"],
                lines=lines,
                requested_by=(request["requested_by_team"], request["requested_by_user"]),
                decided_by=(request["decided_by_team"], request["decided_by_user"]),
                at=_utc(request["applied_at"] or request["updated_at"]),
            )
        )
    for row in bind.execute(
        sa.select(_ledger).where(_ledger.c.kind == "renewal").order_by(_ledger.c.id)
    ):
        product, account_id, name = owners[row._mapping["subscription_id"]]
        events.append(
            renewal_event(
                EventSubject(account_id, name, product, row._mapping["subscription_id"]),
                _line(row),
                _utc(row._mapping["created_at"]),
            )
        )
    for event in sorted(events, key=lambda e: (e.occurred_at, e.idempotency_key)):
        bind.execute(
            sa.insert(_outbox).values(
                webhook_id=event.webhook_id,
                idempotency_key=event.idempotency_key,
                event_type=event.event_type,
                account_id=event.account_id,
                request_id=event.request_id,
                body=event.body(),
                occurred_at=event.occurred_at,
                next_attempt_at=event.occurred_at,
                status="skipped",
                attempts=0,
            )
        )
