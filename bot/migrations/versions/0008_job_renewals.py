"""job claims renewed while their holder works

Revision ID: 0008_job_renewals
Revises: 0007_approvals
Create Date: 2026-12-07

``job_runs.renewed_at``: when the holder of a running claim last said it was alive. A run is
taken over once it has not been renewed for ``SEATBOT_JOB_STALE_SECONDS`` (before, once it had
*started* that long ago, so a live replica slow in Slack was taken over and its thread
re-posted). Runs stored before this revision have none: their ``started_at`` counts.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_job_renewals"
down_revision: str | None = "0007_approvals"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("job_runs") as batch:
        batch.add_column(sa.Column("renewed_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("job_runs") as batch:
        batch.drop_column("renewed_at")
