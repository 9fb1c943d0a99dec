"""members found by the caller's Slack ids

Revision ID: 0011_members_by_caller
Revises: 0010_digest_findings
Create Date: 2026-12-07

An index on ``members (team_id, user_id)``: every command first reads the accounts its caller
holds a role in (``billing.memberships``), which without it scans every member of every
account (and, before PostgreSQL had statistics on 800 new accounts, compared each with
every member: 80 ms a command).
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0011_members_by_caller"
down_revision: str | None = "0010_digest_findings"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_members_team_id", "members", ["team_id", "user_id"])


def downgrade() -> None:
    op.drop_index("ix_members_team_id", table_name="members")
