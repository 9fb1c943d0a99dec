"""``seatbot load``: the accounts file into the database, credentials encrypted on the way.

Two jobs, in two places: :mod:`bot.setup.accounts_file` reads and validates the YAML (every problem
with its line and field, nothing returned from a bad file); the billing use case
:mod:`billing.setup.service` applies the result in the caller's transaction (idempotent, with
audit events, reporting in words what changed and what was deliberately left alone). This
module joins them: it encrypts each connection's credentials and each billing webhook's secret
and URL with the cipher, so that billing and the database only ever see ciphertext (and a
URL's shown form).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy.orm import Session

from billing.errors import ConfigurationError, Problem
from billing.products import Product
from billing.setup import (
    SETUP_ACTOR,
    AccountSetup,
    apply_account_setups,
    stored_platform_credentials,
    stored_webhook_ciphertexts,
)
from bot.runtime.platform_credentials import ciphertext_to_store
from bot.runtime.secrets import TokenCipher, cipher_from_environment
from bot.setup.accounts_file import LoadedConfig, load_file, parse_config
from bot.webhooks.config import secret_to_store

__all__ = [
    "LOAD_ACTOR",
    "LoadReport",
    "LoadedConfig",
    "apply_config",
    "load_file",
    "parse_config",
]

LOAD_ACTOR = SETUP_ACTOR


@dataclass(frozen=True)
class LoadReport:
    """What applying a file did, for the operator: ``changes`` holds one line per change made
    and per difference deliberately left alone (saying why), in file order, never a credential;
    ``changed`` says whether anything was written."""

    changes: tuple[str, ...]
    changed: bool


def apply_config(
    session: Session, config: LoadedConfig, at: datetime, *, cipher: TokenCipher | None = None
) -> LoadReport:
    """Create or update everything in ``config`` inside the caller's transaction.

    ``at`` (aware) places new subscriptions in their current billing period. Credentials,
    webhook secrets and webhook URLs are encrypted with ``cipher`` (default:
    :func:`bot.runtime.secrets.cipher_for` this session's database and the environment's keys,
    looked up only when the file holds some).
    Raises :class:`billing.errors.ConfigurationError` when the file contradicts stored history,
    or when credentials cannot be stored encrypted (no key), naming the line.
    """
    if cipher is None and (any(config.credentials.values()) or config.webhook_secrets):
        cipher = _cipher_for_session(session, config)
    accounts = tuple(
        _with_sealed_webhook(session, _sealed(session, account, config, cipher), config, cipher)
        for account in config.accounts
    )
    result = apply_account_setups(session, accounts, at, actor=LOAD_ACTOR)
    return LoadReport(result.lines, result.changed)


def _sealed(
    session: Session, account: AccountSetup, config: LoadedConfig, cipher: TokenCipher | None
) -> AccountSetup:
    """``account`` with each connection's credentials as the ciphertext to store."""
    wanted: dict[Product, Mapping[str, str]] = {
        platform.product: config.credentials.get((account.name, platform.product), {})
        for platform in account.platforms
    }
    if cipher is None or not any(wanted.values()):
        return account
    stored = stored_platform_credentials(session, account.name)
    platforms = [
        replace(
            platform,
            credentials_encrypted=ciphertext_to_store(
                cipher, wanted[platform.product], stored.get(platform.product)
            ),
        )
        for platform in account.platforms
    ]
    return replace(account, platforms=tuple(platforms))


def _with_sealed_webhook(
    session: Session, account: AccountSetup, config: LoadedConfig, cipher: TokenCipher | None
) -> AccountSetup:
    """``account`` with its billing webhook's URL and secret as the ciphertexts to store."""
    url = config.webhook_urls.get(account.name)
    secret = config.webhook_secrets.get(account.name)
    if account.billing_webhook is None or url is None or secret is None or cipher is None:
        return account
    stored_url, stored_secret = stored_webhook_ciphertexts(session, account.name) or (None, None)
    sealed = replace(
        account.billing_webhook,
        url_encrypted=secret_to_store(cipher, url, stored_url),
        secret_encrypted=secret_to_store(cipher, secret, stored_secret),
    )
    return replace(account, billing_webhook=sealed)


def _cipher_for_session(session: Session, config: LoadedConfig) -> TokenCipher:
    url = session.get_bind().engine.url.render_as_string(hide_password=True)
    try:
        return cipher_from_environment(url)
    except ConfigurationError as error:
        # Name the first connection or webhook that needs the key, so the operator sees which
        # line.
        needs = [
            (p.line, f"{a.name}.platforms.{p.product.value}.options", "credentials")
            for a in config.accounts
            for p in a.platforms
            if config.credentials.get((a.name, p.product))
        ] + [
            (a.billing_webhook.line, f"{a.name}.billing_webhook.secret", "the webhook secret")
            for a in config.accounts
            if a.billing_webhook is not None and a.name in config.webhook_secrets
        ]
        line, where, what = min(needs)
        raise ConfigurationError.of(
            [Problem(line, where, f"{what} cannot be stored: {error}")]
        ) from None
