"""``seatbot tokens rotate``: re-encrypt every stored secret with the newest key, at once."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from billing.errors import DecryptionError
from bot.runtime.installations import rotate_slack_tokens
from bot.runtime.platform_credentials import rotate_platform_credentials
from bot.runtime.secrets import TokenCipher
from bot.webhooks.config import rotate_webhook_secrets


@dataclass(frozen=True)
class RotationReport:
    """How many stored values were re-encrypted."""

    slack_tokens: int
    platform_credentials: int  # connections whose credentials were re-encrypted
    webhook_secrets: int  # accounts whose billing webhook secret was re-encrypted


def rotate_all(session_factory: sessionmaker[Session], cipher: TokenCipher) -> RotationReport:
    """Re-encrypt the Slack tokens, the platform credentials and the billing webhook secrets
    with ``cipher``'s newest key, in one transaction. Raises
    :class:`billing.errors.DecryptionError` (naming what could not be decrypted, never a
    value) and changes nothing when any value cannot be decrypted."""
    try:
        with session_factory.begin() as session:
            slack = rotate_slack_tokens(session, cipher)
            platforms = rotate_platform_credentials(session, cipher)
            webhooks = rotate_webhook_secrets(session, cipher)
    except DecryptionError as error:
        raise DecryptionError(f"{error.message} Nothing was changed.") from error
    return RotationReport(
        slack_tokens=slack, platform_credentials=platforms, webhook_secrets=webhooks
    )
