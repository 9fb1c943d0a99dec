"""Where billing events go: each account's webhook (from the accounts file) or the default
(``SEATBOT_WEBHOOK_URL`` / ``SEATBOT_WEBHOOK_SECRET``), and their secrets at rest.

A webhook secret is a Standard Webhooks secret: ``whsec_`` and the base64 of 24 to 64 random
bytes (``seatbot webhooks new-secret`` makes one). It is stored only as Fernet ciphertext
(:class:`bot.runtime.secrets.TokenCipher`, like platform credentials) in ``billing_webhooks``;
billing sees the ciphertext only, and ``seatbot tokens rotate`` re-encrypts it. The URL is stored
the
same way (its query may hold the receiver's secret), beside its shown form
(:func:`billing.formatting.shown_url`) for people to read. What a URL may be:
:mod:`billing.events.destinations`. No message here quotes a secret or a query value.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from billing.errors import DecryptionError
from billing.events import (
    DEFAULT_RETRY_SCHEDULE,
    BillingWebhook,
    RetrySchedule,
    webhook_url_problem,
)
from billing.models import Account
from bot.runtime.secrets import TokenCipher
from bot.runtime.settings import Settings, bad_setting

SECRET_PREFIX = "whsec_"  # noqa: S105 - the Standard Webhooks prefix, not a secret
SECRET_BYTES = 24  # what `seatbot webhooks new-secret` makes (Standard Webhooks: 24 to 64)
_MIN_SECRET_BYTES, _MAX_SECRET_BYTES = 24, 64

NOT_WHSEC_MESSAGE = (
    "is not a Standard Webhooks secret (whsec_ followed by the base64 of 24 to 64 bytes; "
    "make one with `seatbot webhooks new-secret`)"
)


@dataclass(frozen=True)
class Destination:
    """Where one account's events go and the secret that signs them (both hidden from
    ``repr``: the URL's query may hold a secret too). ``allow_private``: the operator let this
    webhook reach loopback and private addresses (:mod:`bot.webhooks.guard`)."""

    url: str = field(repr=False)
    secret: str = field(repr=False)
    default: bool = False  # the SEATBOT_WEBHOOK_* default, not the account's own
    allow_private: bool = False


def is_webhook_secret(text: str) -> bool:
    """Whether ``text`` is a Standard Webhooks secret Seatbot accepts."""
    if not text.startswith(SECRET_PREFIX):
        return False
    encoded = text[len(SECRET_PREFIX) :]
    try:
        raw = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError):
        return False
    return _MIN_SECRET_BYTES <= len(raw) <= _MAX_SECRET_BYTES


def new_webhook_secret() -> str:
    """A fresh random Standard Webhooks secret."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def default_destination(settings: Settings) -> Destination | None:
    """The default webhook from ``SEATBOT_WEBHOOK_URL`` and ``SEATBOT_WEBHOOK_SECRET`` (``None``
    when neither is set); a :func:`bot.runtime.settings.bad_setting` error when one is missing
    or malformed."""
    url = (settings.seatbot_webhook_url or "").strip()
    secret = settings.seatbot_webhook_secret
    secret_text = "" if secret is None else secret.get_secret_value().strip()
    if not url and not secret_text:
        return None
    if not url:
        raise bad_setting(
            "SEATBOT_WEBHOOK_URL", "is not set, but SEATBOT_WEBHOOK_SECRET is: set both or neither"
        )
    problem = webhook_url_problem(url)
    if problem is not None:
        # The URL is not quoted: a malformed one may hold a password the rules cannot find.
        raise bad_setting("SEATBOT_WEBHOOK_URL", problem)
    if not secret_text:
        raise bad_setting(
            "SEATBOT_WEBHOOK_SECRET", "is not set, but SEATBOT_WEBHOOK_URL is: set both or neither"
        )
    if not is_webhook_secret(secret_text):
        raise bad_setting("SEATBOT_WEBHOOK_SECRET", NOT_WHSEC_MESSAGE)
    return Destination(url, secret_text, default=True)


def retry_schedule(settings: Settings) -> RetrySchedule:
    """``SEATBOT_WEBHOOK_RETRY_SCHEDULE`` (seconds after each failed attempt, comma-separated),
    else the default of about a day; a :func:`bot.runtime.settings.bad_setting` error when
    malformed."""
    text = (settings.seatbot_webhook_retry_schedule or "").strip()
    if not text:
        return DEFAULT_RETRY_SCHEDULE
    try:
        seconds = [float(part) for part in text.split(",")]
        return RetrySchedule.of_seconds(seconds)
    except ValueError:
        raise bad_setting(
            "SEATBOT_WEBHOOK_RETRY_SCHEDULE",
            f"{text[:60]!r} is not a list of positive numbers of seconds (like 5,30,120)",
        ) from None


def seal_secret(cipher: TokenCipher, secret: str) -> str:
    """The ciphertext to store for ``secret`` (a webhook's secret or its URL)."""
    return cipher.encrypt(secret) or ""  # a text always encrypts to a text


def secret_to_store(cipher: TokenCipher, secret: str, stored: str | None) -> str:
    """``stored`` itself when it already holds ``secret`` (a webhook's secret or its URL), so
    that reloading an unchanged file changes nothing (Fernet ciphertext differs every time);
    else a fresh ciphertext."""
    if stored is not None:
        try:
            if cipher.decrypt(stored) == secret:
                return stored
        except DecryptionError:
            pass
    return seal_secret(cipher, secret)


def destination_for(
    session: Session, cipher: TokenCipher, account_id: int, default: Destination | None
) -> Destination | None:
    """The account's own webhook (its URL and secret decrypted), else ``default``. Raises
    :class:`DecryptionError` when they cannot be decrypted."""
    row = session.scalars(
        select(BillingWebhook).where(BillingWebhook.account_id == account_id)
    ).one_or_none()
    if row is None:
        return default
    try:
        url = cipher.decrypt(row.url_encrypted) or ""
        secret = cipher.decrypt(row.secret_encrypted) or ""
    except DecryptionError:
        name = session.scalars(select(Account.name).where(Account.id == account_id)).one()
        raise DecryptionError(
            f"the billing webhook secret of account {name} cannot be decrypted with any "
            "configured key (SEATBOT_TOKEN_KEYS, or the SQLite key file); reload the accounts "
            "file with `seatbot load` to replace it"
        ) from None
    return Destination(url, secret, allow_private=row.allow_private_destinations)


def rotate_webhook_secrets(session: Session, cipher: TokenCipher) -> int:
    """Re-encrypt every stored webhook secret and URL with the newest key, in the caller's
    transaction; how many webhooks. Raises :class:`billing.errors.DecryptionError` naming
    the account when one cannot be decrypted (the caller rolls back)."""
    rows = session.execute(
        select(BillingWebhook, Account.name)
        .join(Account, Account.id == BillingWebhook.account_id)
        .order_by(BillingWebhook.id)
    ).all()
    for row, account_name in rows:
        try:
            rotated = cipher.rotate(row.secret_encrypted)
            row.url_encrypted = cipher.rotate(row.url_encrypted) or ""
        except DecryptionError as error:
            raise DecryptionError(
                f"The billing webhook secret of account {account_name} cannot be decrypted "
                "with any configured key; was a key removed before `seatbot tokens rotate` "
                "ran? (Reloading it with `seatbot load` replaces it.)"
            ) from error
        row.secret_encrypted = rotated or ""  # a text always rotates to a text
    return len(rows)
