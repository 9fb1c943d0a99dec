"""webhook destinations: the URL encrypted at rest, private addresses by the operator's leave

Revision ID: 0009_webhook_destinations
Revises: 0008_job_renewals
Create Date: 2026-12-07

A webhook URL's query may hold the receiver's secret (``?token=…``), so the URL is stored like
the webhook secret: ``billing_webhooks.url_encrypted`` holds its Fernet ciphertext, and ``url``
only its shown form (``billing.formatting.shown_url``: no password, no query value), for people
to read. Rows stored before this revision have their URL encrypted here, in the same
transaction, with the key their secret was encrypted with (found as
:class:`bot.migrations.migration_cipher.LazyCipher` finds it; a database without webhooks
needs none). ``allow_private_destinations`` (false) is the accounts file's opt-in for loopback
and private addresses. Downgrading puts the clear URLs back.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from billing.formatting import shown_url
from bot.migrations.migration_cipher import LazyCipher

revision: str = "0009_webhook_destinations"
down_revision: str | None = "0008_job_renewals"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_webhooks = sa.table(
    "billing_webhooks",
    sa.column("id", sa.Integer()),
    sa.column("url", sa.String(2000)),
    sa.column("url_encrypted", sa.Text()),
)


def upgrade() -> None:
    op.add_column("billing_webhooks", sa.Column("url_encrypted", sa.Text(), nullable=True))
    op.add_column(
        "billing_webhooks",
        sa.Column(
            "allow_private_destinations", sa.Boolean(), nullable=False, server_default=sa.false()
        ),
    )
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        # Zero the space the clear URLs leave behind, rather than leave it in the file.
        bind.exec_driver_sql("PRAGMA secure_delete = ON")
    cipher = LazyCipher()
    for row_id, url in bind.execute(sa.select(_webhooks.c.id, _webhooks.c.url)).all():
        bind.execute(
            sa.update(_webhooks)
            .where(_webhooks.c.id == row_id)
            .values(url=shown_url(url), url_encrypted=cipher.get().encrypt(url))
        )
    with op.batch_alter_table("billing_webhooks") as batch:
        batch.alter_column("url_encrypted", existing_type=sa.Text(), nullable=False)


def downgrade() -> None:
    bind = op.get_bind()
    cipher = LazyCipher()
    rows = bind.execute(sa.select(_webhooks.c.id, _webhooks.c.url_encrypted)).all()
    for row_id, ciphertext in rows:
        bind.execute(
            sa.update(_webhooks)
            .where(_webhooks.c.id == row_id)
            .values(url=cipher.get().decrypt(ciphertext))
        )
    with op.batch_alter_table("billing_webhooks") as batch:
        batch.drop_column("allow_private_destinations")
        batch.drop_column("url_encrypted")
