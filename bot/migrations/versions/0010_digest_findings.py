"""the digest's findings and where a seat change started

Revision ID: 0010_digest_findings
Revises: 0009_webhook_destinations
Create Date: 2026-12-07

``reconciliation_products.users_not_using``: the users who hold a seat without using it
(inactive, or idle 30+ days, each counted once), so the digest's "could be saved" never counts
one seat twice. Runs stored before this revision have none: their stored list of such users
counts when it is complete, else the larger of the inactive and idle counts.

``seat_change_requests.source``: where a change was started when it was not by ``/seats`` or
the form (``digest``: the digest's right-size button); NULL for every earlier request.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_digest_findings"
down_revision: str | None = "0009_webhook_destinations"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("reconciliation_products") as batch:
        batch.add_column(sa.Column("users_not_using", sa.Integer(), nullable=True))
    with op.batch_alter_table("seat_change_requests") as batch:
        batch.add_column(sa.Column("source", sa.String(16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("seat_change_requests") as batch:
        batch.drop_column("source")
    with op.batch_alter_table("reconciliation_products") as batch:
        batch.drop_column("users_not_using")
