"""quote revisions and subscription starts

Revision ID: 0004_quote_revisions
Revises: 0003_platform_credentials
Create Date: 2026-11-29

``seat_change_requests.quote_revision`` numbers the quotes stored on a request (a Confirm button
carries it; only the stored revision may be applied). ``subscriptions.initial_seats`` and
``started_at`` record what Seatbot took over, for ``seatbot check`` and for refusing quotes
before a subscription existed. Existing rows: revision 1; the initial seats are the current
seats minus the applied changes; the start is the earliest billing period a request was
quoted in, else the current period.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_quote_revisions"
down_revision: str | None = "0003_platform_credentials"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("seat_change_requests") as batch:
        batch.add_column(
            sa.Column("quote_revision", sa.Integer(), nullable=False, server_default="1")
        )
        batch.create_check_constraint("quote_revision_positive", "quote_revision >= 1")
    with op.batch_alter_table("subscriptions") as batch:
        batch.add_column(sa.Column("initial_seats", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("started_at", sa.DateTime(timezone=True), nullable=True))
    # What Seatbot took over: seats before the applied changes; the earliest period on record.
    op.execute(
        """
        UPDATE subscriptions SET
          initial_seats = seats - COALESCE((
            SELECT SUM(r.new_seats - r.old_seats) FROM seat_change_requests r
            WHERE r.subscription_id = subscriptions.id AND r.status = 'applied'), 0),
          started_at = COALESCE((
            SELECT MIN(r.quoted_period_start) FROM seat_change_requests r
            WHERE r.subscription_id = subscriptions.id
              AND r.quoted_period_start < subscriptions.current_period_start),
            current_period_start)
        """
    )
    with op.batch_alter_table("subscriptions") as batch:
        batch.alter_column("initial_seats", existing_type=sa.Integer(), nullable=False)
        batch.alter_column("started_at", existing_type=sa.DateTime(timezone=True), nullable=False)
        batch.create_check_constraint("initial_seats_not_negative", "initial_seats >= 0")
    with op.batch_alter_table("seat_change_requests") as batch:
        batch.alter_column("quote_revision", existing_type=sa.Integer(), server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("subscriptions") as batch:
        batch.drop_constraint(op.f("ck_subscriptions_initial_seats_not_negative"), type_="check")
        batch.drop_column("started_at")
        batch.drop_column("initial_seats")
    with op.batch_alter_table("seat_change_requests") as batch:
        batch.drop_constraint(
            op.f("ck_seat_change_requests_quote_revision_positive"), type_="check"
        )
        batch.drop_column("quote_revision")
