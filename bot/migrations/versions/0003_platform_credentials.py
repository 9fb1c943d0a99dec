"""platform credentials encrypted at rest

Revision ID: 0003_platform_credentials
Revises: 0002_slack_installations
Create Date: 2026-11-29

Adds ``platform_connections.credentials_encrypted``: the Fernet ciphertext of a JSON object
holding the connection's credentials (see ``bot.platform_credentials``). Rows whose ``options``
still hold credentials have them moved there, in the same transaction, so that after this
revision no credential is readable in the database.

The key: a caller may hand a ``bot.secrets.TokenCipher`` in
``config.attributes["token_cipher"]``; otherwise it is the cipher ``bot.secrets.cipher_for``
gives for this database and the environment (``SEATBOT_TOKEN_KEYS``, else the SQLite key file),
so ``seatbot db upgrade``, ``serve`` and ``load`` need nothing new. It is looked up only when a
row holds credentials: a database without any (every new one) migrates without a key. On
PostgreSQL without ``SEATBOT_TOKEN_KEYS`` and with credentials to move, the upgrade stops with
``bot.secrets.TokenKeyError`` and changes nothing. Downgrading decrypts them back into
``options`` (with the key found the same way).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import context, op

from bot.secrets import TokenCipher, cipher_from_environment

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


class _LazyCipher:
    """Finds the key on first use only, so that migrating needs one only when there is
    something to encrypt or decrypt."""

    def __init__(self) -> None:
        self._cipher: TokenCipher | None = None

    def get(self) -> TokenCipher:
        if self._cipher is None:
            attributes = context.config.attributes
            given = attributes.get("token_cipher")
            if isinstance(given, TokenCipher):
                self._cipher = given
            else:
                url = attributes.get("url") or op.get_bind().engine.url.render_as_string(
                    hide_password=True
                )
                self._cipher = cipher_from_environment(str(url))
        return self._cipher


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
    cipher = _LazyCipher()
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
    cipher = _LazyCipher()
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
