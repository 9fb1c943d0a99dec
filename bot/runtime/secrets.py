"""Secrets at rest: the encryption keys, where they come from, and the cipher that uses them.

Everything secret that Seatbot stores (the Slack tokens of OAuth installations, the platform
credentials of each account) is Fernet ciphertext made by :class:`TokenCipher`. The newest key
encrypts, every key decrypts (``MultiFernet``), so a new key can be put first at any time and
``seatbot tokens rotate`` then re-encrypts everything with it, after which the old key can go.

Where the keys come from (:func:`cipher_for`):

* ``SEATBOT_TOKEN_KEYS``: comma-separated Fernet keys, newest first. Required with PostgreSQL
  (or any server database): without it Seatbot refuses to start.
* Without it, an embedded SQLite database file gets a *key file* beside it (``seatbot.db.key``
  next to ``seatbot.db``, mode 0600), made on first use and announced once on the log; losing
  it loses the stored credentials. An in-memory database uses a key that lives as long as the
  process, like the database itself.
* With both, the variable's keys come first (the first one encrypts) and the key file's still
  decrypt: setting ``SEATBOT_TOKEN_KEYS`` and running ``seatbot tokens rotate`` moves a SQLite
  installation from its key file to explicit keys.

No usable key (``SEATBOT_TOKEN_KEYS`` missing where it is required, or not a Fernet key, or the
key file cannot be made or read) is a :class:`billing.errors.ConfigurationError`; a stored value
no configured key opens is a :class:`billing.errors.DecryptionError`. No message raised or
logged here contains a key or a ciphertext.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
from collections.abc import Sequence
from functools import cache
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from billing.errors import ConfigurationError, DecryptionError
from bot.runtime.logging_setup import OPERATOR_NOTICE
from bot.runtime.settings import Settings, load_settings

logger = logging.getLogger(__name__)

#: Appended to a SQLite database file's name to name its key file.
KEY_FILE_SUFFIX = ".key"
KEY_FILE_MODE = 0o600
_KEY_SEPARATORS = re.compile(r"[,\s]+")


class TokenCipher:
    """Encrypts with the newest key; decrypts with any of the keys (newest first)."""

    def __init__(self, keys: Sequence[str], *, source: str = "SEATBOT_TOKEN_KEYS") -> None:
        cleaned = [k.strip() for k in keys if k.strip()]
        if not cleaned:
            raise ConfigurationError(
                f"{source} is empty: it needs one or more Fernet keys, newest first "
                "(make one with `seatbot tokens new-key`)."
            )
        fernets: list[Fernet] = []
        for position, key in enumerate(cleaned, start=1):
            try:
                fernets.append(Fernet(key.encode()))
            except ValueError as error:
                raise ConfigurationError(
                    f"{source}: key number {position} is not a valid Fernet key "
                    "(32 url-safe base64-encoded bytes)."
                ) from error
        self._keys = tuple(cleaned)
        self._fernet = MultiFernet(fernets)
        self.key_count = len(fernets)

    def __repr__(self) -> str:
        return f"TokenCipher(<{getattr(self, 'key_count', 0)} key(s)>)"

    @staticmethod
    def new_key() -> str:
        """A fresh random Fernet key (url-safe base64 text)."""
        return Fernet.generate_key().decode()

    def followed_by(self, older: TokenCipher) -> TokenCipher:
        """A cipher with this one's keys first and then ``older``'s (which only decrypt)."""
        return TokenCipher(self._keys + tuple(k for k in older._keys if k not in self._keys))

    def encrypt(self, plaintext: str | None) -> str | None:
        """Ciphertext for ``plaintext`` under the newest key (``None`` stays ``None``)."""
        if plaintext is None:
            return None
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, ciphertext: str | None) -> str | None:
        """The plaintext of ``ciphertext`` (``None`` stays ``None``); raises
        :class:`DecryptionError` when no configured key opens it."""
        if ciphertext is None:
            return None
        try:
            return self._fernet.decrypt(ciphertext.encode()).decode()
        except InvalidToken as error:
            raise DecryptionError(
                "A stored secret cannot be decrypted with any configured key "
                "(SEATBOT_TOKEN_KEYS, or the SQLite key file); was a key removed before "
                "`seatbot tokens rotate` ran?"
            ) from error

    def rotate(self, ciphertext: str | None) -> str | None:
        """``ciphertext`` re-encrypted under the newest key (same plaintext)."""
        if ciphertext is None:
            return None
        try:
            return self._fernet.rotate(ciphertext.encode()).decode()
        except InvalidToken as error:
            raise DecryptionError(
                "A stored secret cannot be decrypted with any configured key "
                "(SEATBOT_TOKEN_KEYS, or the SQLite key file)."
            ) from error


def _split_keys(text: str) -> list[str]:
    return [key for key in _KEY_SEPARATORS.split(text) if key]


# -- where the keys come from -------------------------------------------------------------------


def key_file_for(database_url: str) -> Path | None:
    """The key file of a SQLite database file (``seatbot.db`` → ``seatbot.db.key``, relative
    paths resolved against the working directory as SQLite does); ``None`` for an in-memory
    SQLite database and for every other database."""
    from bot.runtime.db import sqlite_path

    database = sqlite_path(database_url)
    if database is None:
        return None
    return database.with_name(database.name + KEY_FILE_SUFFIX).absolute()


def _is_memory_sqlite(database_url: str) -> bool:
    try:
        url = make_url(database_url)
    except ArgumentError:
        return False
    return url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")


def cipher_for(settings: Settings) -> TokenCipher:
    """The cipher for everything stored in ``settings.database_url`` (see the module docstring).

    The composition root calls it once at startup. Raises :class:`ConfigurationError` (a one-line
    message naming the fix, never a key) when a server database has no ``SEATBOT_TOKEN_KEYS``,
    when a key is malformed, or when the SQLite key file cannot be made or read. May create the
    key file (a side effect, announced with one warning on this module's logger).
    """
    url = settings.database_url
    configured = settings.seatbot_token_keys
    key_file = key_file_for(url)
    if configured is not None:
        cipher = TokenCipher(_split_keys(configured.get_secret_value()))
        if key_file is not None and key_file.exists():
            cipher = cipher.followed_by(_read_key_file(key_file))
        return cipher
    if key_file is not None:
        if _create_key_file(key_file):
            logger.warning(
                "Created %s: the key that encrypts the credentials stored in %s. Keep it and "
                "back it up with the database; losing it loses the stored credentials "
                "(set SEATBOT_TOKEN_KEYS to manage keys yourself).",
                key_file,
                key_file.with_suffix("").name,
                extra=OPERATOR_NOTICE,
            )
        return _read_key_file(key_file)
    if _is_memory_sqlite(url):
        return TokenCipher([_process_key()])
    raise ConfigurationError(_NO_KEYS_FOR_A_SERVER)


#: Why a server database cannot start without SEATBOT_TOKEN_KEYS, and the fix.
_NO_KEYS_FOR_A_SERVER = (
    "SEATBOT_TOKEN_KEYS is not set: a server database (PostgreSQL) keeps platform "
    "credentials and Slack tokens encrypted with it; make a key with "
    "`seatbot tokens new-key` and set SEATBOT_TOKEN_KEYS to it."
)


def check_keys(settings: Settings) -> None:
    """Raise the :class:`ConfigurationError` :func:`cipher_for` would for want of a usable key
    (malformed keys, or a server database without ``SEATBOT_TOKEN_KEYS``), without making or
    reading a key file: for the checks ``seatbot serve`` makes before touching anything."""
    if settings.seatbot_token_keys is not None:
        TokenCipher(_split_keys(settings.seatbot_token_keys.get_secret_value()))
    elif key_file_for(settings.database_url) is None and not _is_memory_sqlite(
        settings.database_url
    ):
        raise ConfigurationError(_NO_KEYS_FOR_A_SERVER)


def cipher_from_environment(database_url: str) -> TokenCipher:
    """:func:`cipher_for` the database at ``database_url`` with the environment's keys.

    For callers that were handed a database but no cipher (the loader's and the platform
    directory's defaults, the migration that encrypts existing credentials).
    """
    return cipher_for(load_settings().model_copy(update={"database_url": database_url}))


def rotation_cipher(settings: Settings) -> TokenCipher:
    """The cipher ``seatbot tokens rotate`` re-encrypts with: ``SEATBOT_TOKEN_KEYS`` must be set
    (its first key is the one everything moves to); the SQLite key file's keys still decrypt."""
    if settings.seatbot_token_keys is None:
        key_file = key_file_for(settings.database_url)
        if key_file is not None:
            raise ConfigurationError(
                f"SEATBOT_TOKEN_KEYS is not set: this installation keeps its key in the key file "
                f"{key_file}, and rotation moves everything to a key of your own; make one with "
                "`seatbot tokens new-key`, set SEATBOT_TOKEN_KEYS to it and run "
                "`seatbot tokens rotate` again (the key file's key still decrypts; keep the file "
                "until the rotation is done)."
            )
        raise ConfigurationError(
            "SEATBOT_TOKEN_KEYS is not set: rotation re-encrypts everything with its first key; "
            "set it to a new key (`seatbot tokens new-key`) followed by the current ones."
        )
    return cipher_for(settings)


@cache
def _process_key() -> str:
    # An in-memory database dies with the process, and so may its key.
    return TokenCipher.new_key()


def _read_key_file(path: Path) -> TokenCipher:
    try:
        text = path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) else "not a key"
        raise ConfigurationError(f"cannot read the key file {path} ({reason}).") from None
    if os.name == "posix" and path.stat().st_mode & 0o077:
        logger.warning(
            "The key file %s can be read by other users of this machine; `chmod 600 %s`.",
            path,
            path,
        )
    try:
        return TokenCipher(_split_keys(text), source=f"the key file {path}")
    except ConfigurationError as error:
        raise ConfigurationError(
            f"{error} Restore it from a backup; without it the stored credentials are lost."
        ) from None


def _create_key_file(path: Path) -> bool:
    """Write a new key to ``path`` unless it exists; ``True`` when this call made it.

    The key is written to a private temporary file and hard-linked into place, so a second
    process starting at the same moment either wins the race or reads a complete file.
    """
    if path.exists():
        return False
    key = TokenCipher.new_key().encode() + b"\n"
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    try:
        _write_private(temporary, key)
        try:
            os.link(temporary, path)
        except FileExistsError:
            return False
        except OSError:  # a file system without hard links: exclusive create, no temp file
            try:
                _write_private(path, key)
            except FileExistsError:
                return False
        return True
    except OSError as error:
        raise ConfigurationError(f"cannot create the key file {path} ({error.strerror}).") from None
    finally:
        temporary.unlink(missing_ok=True)


def _write_private(path: Path, content: bytes) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, KEY_FILE_MODE)
    try:
        if hasattr(os, "fchmod"):
            os.fchmod(descriptor, KEY_FILE_MODE)  # the umask may have taken bits away
        os.write(descriptor, content)
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
