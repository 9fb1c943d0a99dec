"""approvals

Revision ID: 0007_approvals
Revises: 0006_webhook_outbox
Create Date: 2026-11-29

Approval by managers: each account's policy (``approval_policies``), what a pending request was
submitted to and when (``seat_change_requests.submitted_at``, ``approvers``, ``escalated_at``,
``decision_reason``), and the Slack messages posted about it (``approval_messages``), so every
one is stamped with the decision.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_approvals"
down_revision: str | None = "0006_webhook_outbox"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "approval_policies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("approvers", sa.Text(), nullable=False),
        sa.Column("channel_id", sa.String(length=32), nullable=True),
        sa.Column("require_decrease", sa.Boolean(), nullable=False),
        sa.Column("increase_over_seats", sa.Integer(), nullable=True),
        sa.Column("net_charge_over_minor", sa.BigInteger(), nullable=True),
        sa.Column("remind_after_s", sa.Integer(), nullable=True),
        sa.Column("escalate_after_s", sa.Integer(), nullable=True),
        sa.Column("escalate_to", sa.Text(), nullable=False),
        sa.Column("expire_after_s", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "increase_over_seats IS NULL OR increase_over_seats >= 0",
            name=op.f("ck_approval_policies_over"),
        ),
        sa.CheckConstraint(
            "net_charge_over_minor IS NULL OR net_charge_over_minor >= 0",
            name=op.f("ck_approval_policies_net"),
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_approval_policies_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_approval_policies")),
        sa.UniqueConstraint("account_id", name=op.f("uq_approval_policies_account_id")),
    )
    op.create_table(
        "approval_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("channel_id", sa.String(length=32), nullable=False),
        sa.Column("ts", sa.String(length=32), nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("recipient", sa.String(length=32), nullable=True),
        sa.Column("posted_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["seat_change_requests.id"],
            name=op.f("fk_approval_messages_request_id_seat_change_requests"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_approval_messages")),
        sa.UniqueConstraint(
            "request_id",
            "channel_id",
            "ts",
            name=op.f("uq_approval_messages_request_id_channel_id_ts"),
        ),
    )
    op.create_index(
        op.f("ix_approval_messages_request_id"), "approval_messages", ["request_id"], unique=False
    )
    with op.batch_alter_table("seat_change_requests") as batch:
        batch.add_column(sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("approvers", sa.Text(), nullable=True))
        batch.add_column(sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("decision_reason", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("seat_change_requests") as batch:
        batch.drop_column("decision_reason")
        batch.drop_column("escalated_at")
        batch.drop_column("approvers")
        batch.drop_column("submitted_at")
    op.drop_index(op.f("ix_approval_messages_request_id"), table_name="approval_messages")
    op.drop_table("approval_messages")
    op.drop_table("approval_policies")
