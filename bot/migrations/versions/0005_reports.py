"""reconciliation runs, digest times and claimable job runs

Revision ID: 0005_reports
Revises: 0004_quote_revisions
Create Date: 2026-11-29

``reconciliation_runs`` and ``reconciliation_products`` store every reconciliation (so "since
yesterday" and trends need no platform call); ``accounts.digest_at`` is the local time of the
daily digest. ``job_runs`` (unused until now, so it is made anew) becomes the claim table of
:mod:`billing.jobs.store`: unique on (job, run key) instead of (job, scheduled time), so two
accounts whose digests fall on the same instant are two runs, with attempts, lateness, what
was posted, and a ``skipped`` status.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_reports"
down_revision: str | None = "0004_quote_revisions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        batch.add_column(sa.Column("digest_at", sa.String(length=5), nullable=True))
    op.drop_table("job_runs")
    op.create_table(
        "job_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job_name", sa.String(length=64), nullable=False),
        sa.Column("run_key", sa.String(length=200), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("scheduled_for", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("late", sa.Boolean(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("channel_id", sa.String(length=32), nullable=True),
        sa.Column("message_ts", sa.String(length=32), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.CheckConstraint(
            "status IN ('running', 'succeeded', 'failed', 'skipped')",
            name=op.f("ck_job_runs_status"),
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_job_runs_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_runs")),
        sa.UniqueConstraint("job_name", "run_key", name=op.f("uq_job_runs_job_name_run_key")),
    )
    op.create_index(
        op.f("ix_job_runs_account_id"), "job_runs", ["account_id", "job_name", "status"]
    )
    op.create_table(
        "reconciliation_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("local_date", sa.Date(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_reconciliation_runs_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reconciliation_runs")),
    )
    op.create_index(
        op.f("ix_reconciliation_runs_account_id"), "reconciliation_runs", ["account_id", "at"]
    )
    op.create_table(
        "reconciliation_products",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("product", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("seats", sa.Integer(), nullable=False),
        sa.Column("unit_price_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("interval", sa.String(length=16), nullable=False),
        sa.Column("users_total", sa.Integer(), nullable=True),
        sa.Column("users_active", sa.Integer(), nullable=True),
        sa.Column("users_inactive", sa.Integer(), nullable=True),
        sa.Column("users_idle", sa.Integer(), nullable=True),
        sa.Column("idle_users", sa.Text(), nullable=False),
        sa.CheckConstraint(
            "product IN ('contact_center', 'axiom', 'matrix')",
            name=op.f("ck_reconciliation_products_product"),
        ),
        sa.CheckConstraint(
            "status IN ('ok', 'unknown')", name=op.f("ck_reconciliation_products_status")
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["reconciliation_runs.id"],
            name=op.f("fk_reconciliation_products_run_id_reconciliation_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reconciliation_products")),
        sa.UniqueConstraint(
            "run_id", "product", name=op.f("uq_reconciliation_products_run_id_product")
        ),
    )
    op.create_index(
        op.f("ix_reconciliation_products_run_id"), "reconciliation_products", ["run_id"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_reconciliation_products_run_id"), table_name="reconciliation_products")
    op.drop_table("reconciliation_products")
    op.drop_index(op.f("ix_reconciliation_runs_account_id"), table_name="reconciliation_runs")
    op.drop_table("reconciliation_runs")
    op.drop_index(op.f("ix_job_runs_account_id"), table_name="job_runs")
    op.drop_table("job_runs")
    op.create_table(
        "job_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job_name", sa.String(length=64), nullable=False),
        sa.Column("scheduled_for", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('running', 'succeeded', 'failed')", name=op.f("ck_job_runs_status")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_runs")),
        sa.UniqueConstraint(
            "job_name", "scheduled_for", name=op.f("uq_job_runs_job_name_scheduled_for")
        ),
    )
    with op.batch_alter_table("accounts") as batch:
        batch.drop_column("digest_at")
