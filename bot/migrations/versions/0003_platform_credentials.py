"""platform credentials encrypted at rest

Revision ID: 0003_platform_credentials
Revises: 0002_slack_installations
Create Date: 2026-11-29

Adds ``platform_connections.credentials_encrypted``: the Fernet ciphertext of a JSON object
holding the connection's credentials (see ``bot.runtime.platform_credentials``). Rows whose
``options`` still hold credentials have them moved there, in the same transaction, so that after
this
revision no credential is readable in the database.

The key: :class:`bot.migrations.migration_cipher.LazyCipher` (handed in, or the environment's
for this database), looked up only when a row holds credentials: a database without any
(every new one) migrates without a key. On PostgreSQL without ``SEATBOT_TOKEN_KEYS`` and with
credentials to move, the upgrade stops with ``billing.errors.ConfigurationError`` and changes
nothing. Downgrading decrypts them back into ``options`` (with the key found the same way).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from bot.migrations.migration_cipher import LazyCipher

revision: str = "0003_platform_credentials"
down_revision: str | None = "0002_slack_installations"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen here on purpose: the credential keys ``options`` could hold before this revision.
_CREDENTIAL_KEYS = ("api_key", "login_email", "token")

_connections = sa.table(
    "platform_connections",
    sa.column("id", sa.Integer()),
    sa.column("options", sa.Text()),
    sa.column("credentials_encrypted", sa.Text()),
)


def _options(text: str | None) -> dict[str, Any] | None:
    try:
        value = json.loads(text or "{}")
    except ValueError:
        return None  # unreadable options: the platform directory reports the row as broken
    return value if isinstance(value, dict) else None


def upgrade() -> None:
    op.add_column("platform_connections", sa.Column("credentials_encrypted", sa.Text()))
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        # Zero the space the clear-text options leave behind, rather than leave it in the file.
        bind.exec_driver_sql("PRAGMA secure_delete = ON")
    cipher = LazyCipher()
    rows = bind.execute(sa.select(_connections.c.id, _connections.c.options)).all()
    for row_id, text in rows:
        options = _options(text)
        if options is None:
            continue
        credentials = {key: options.pop(key) for key in _CREDENTIAL_KEYS if key in options}
        if not credentials:
            continue
        bind.execute(
            sa.update(_connections)
            .where(_connections.c.id == row_id)
            .values(
                options=json.dumps(options, sort_keys=True),
                credentials_encrypted=cipher.get().encrypt(json.dumps(credentials, sort_keys=True)),
            )
        )


def downgrade() -> None:
    bind = op.get_bind()
    cipher = LazyCipher()
    rows = bind.execute(
        sa.select(
            _connections.c.id, _connections.c.options, _connections.c.credentials_encrypted
        ).where(_connections.c.credentials_encrypted.is_not(None))
    ).all()
    for row_id, text, ciphertext in rows:
        options = _options(text) or {}
        options.update(json.loads(cipher.get().decrypt(ciphertext) or "{}"))
        bind.execute(
            sa.update(_connections)
            .where(_connections.c.id == row_id)
            .values(options=json.dumps(options, sort_keys=True))
        )
    op.drop_column("platform_connections", "credentials_encrypted")
