"""Platform credentials at rest: which connection options are secret, and their ciphertext.

A platform connection (``platform_connections``) keeps two things apart:

* ``options``: JSON settings that are not secret (:data:`SETTING_KEYS`: endpoint ``paths``,
  ``page_size``, ``timeouts``, ``retry``, a user file's ``encoding``), readable in the database
  and in the audit trail;
* ``credentials_encrypted``: the Fernet ciphertext (:class:`bot.runtime.secrets.TokenCipher`) of a
  JSON object holding every credential (:data:`CREDENTIAL_KEYS`), or ``NULL`` when there are none.

``login_email`` counts as a credential: with the API key it is what signs in to Axiom, it is
personal data, and nothing needs to read it from the database, so it is not left readable.
A future credential is added to :data:`CREDENTIAL_KEYS`; the accounts file refuses any option
that is in neither set, so a new secret cannot slip into ``options`` unnoticed.

``billing`` sees only the opaque ciphertext; encryption and decryption happen here, in ``bot``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from billing.errors import DecryptionError
from billing.models import Account
from billing.setup import PlatformConnection
from bot.runtime.secrets import TokenCipher

#: Option keys whose values are credentials: stored only as ciphertext, never printed.
CREDENTIAL_KEYS = frozenset({"api_key", "login_email", "token"})
#: Option keys that are plain settings (read by ``bot.runtime.platform_directory``).
SETTING_KEYS = frozenset({"paths", "page_size", "timeouts", "retry", "encoding"})


class PlatformCredentials(Mapping[str, str]):
    """A connection's credentials in memory: a read-only mapping whose ``repr`` shows only the
    names, so that printing a parsed file or a spec leaks nothing."""

    def __init__(self, values: Mapping[str, str]) -> None:
        self._values = dict(sorted(values.items()))

    def __getitem__(self, key: str) -> str:
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"PlatformCredentials({', '.join(self._values)}: hidden)"


def seal(cipher: TokenCipher, credentials: Mapping[str, str]) -> str | None:
    """The ciphertext to store for ``credentials`` (``None`` when there are none)."""
    if not credentials:
        return None
    return cipher.encrypt(json.dumps(dict(credentials), sort_keys=True))


def unseal(cipher: TokenCipher, ciphertext: str | None) -> PlatformCredentials:
    """The credentials in ``ciphertext`` (none for ``None``); raises
    :class:`billing.errors.DecryptionError` when it cannot be opened or is not what
    :func:`seal` made (the message names no key, ciphertext or value)."""
    if ciphertext is None:
        return PlatformCredentials({})
    plaintext = cipher.decrypt(ciphertext) or ""
    try:
        values = json.loads(plaintext)
    except ValueError:
        values = None
    if not isinstance(values, dict) or not all(isinstance(v, str) for v in values.values()):
        raise DecryptionError(
            "Stored platform credentials do not decrypt to a JSON object of text values."
        )
    return PlatformCredentials(values)


def ciphertext_to_store(
    cipher: TokenCipher, credentials: Mapping[str, str], stored: str | None
) -> str | None:
    """What to store for ``credentials`` given the ciphertext stored now: ``stored`` itself when
    it already holds exactly these credentials (Fernet ciphertext differs on every encryption,
    so this is what keeps reloading an unchanged file a no-op), else a fresh ciphertext. Stored
    credentials that cannot be read are replaced."""
    if stored is not None:
        try:
            if unseal(cipher, stored) == credentials:
                return stored
        except DecryptionError:
            pass
    return seal(cipher, credentials)


def plaintext_credential_keys(options: Mapping[str, Any]) -> list[str]:
    """The credential keys found in a connection's readable ``options`` (should be none)."""
    return sorted(CREDENTIAL_KEYS & set(options))


def rotate_platform_credentials(session: Session, cipher: TokenCipher) -> int:
    """Re-encrypt every stored platform credential set with the newest key, in the caller's
    transaction; returns how many rows were re-encrypted. Raises
    :class:`billing.errors.DecryptionError` naming the account and product when one cannot
    be decrypted (the caller rolls back, so nothing changes)."""
    rows = session.execute(
        select(PlatformConnection, Account.name)
        .join(Account, Account.id == PlatformConnection.account_id)
        .where(PlatformConnection.credentials_encrypted.is_not(None))
        .order_by(PlatformConnection.id)
    ).all()
    for row, account_name in rows:
        try:
            row.credentials_encrypted = cipher.rotate(row.credentials_encrypted)
        except DecryptionError as error:
            raise DecryptionError(
                f"The {row.product} credentials of account {account_name} cannot be decrypted "
                "with any configured key; was a key removed before `seatbot tokens rotate` ran? "
                "(Reloading them with `seatbot load` replaces them.)"
            ) from error
    return len(rows)
