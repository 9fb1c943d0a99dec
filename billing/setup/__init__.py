"""Setting accounts up as the operator's accounts file describes them."""

from typing import TYPE_CHECKING

from billing.faces import face

if TYPE_CHECKING:
    from billing.setup.service import SETUP_ACTOR, apply_account_setups
    from billing.setup.specs import (
        AccountSetup,
        MemberSetup,
        PlatformSetup,
        SubscriptionSetup,
        WebhookSetup,
    )
    from billing.setup.store import (
        PlatformConnection,
        stored_platform_credentials,
        stored_webhook_ciphertexts,
    )

_OFFERED = {
    "service": (
        "SETUP_ACTOR",
        "apply_account_setups",
    ),
    "specs": (
        "AccountSetup",
        "MemberSetup",
        "PlatformSetup",
        "SubscriptionSetup",
        "WebhookSetup",
    ),
    "store": (
        "PlatformConnection",
        "stored_platform_credentials",
        "stored_webhook_ciphertexts",
    ),
}
__all__ = [
    "SETUP_ACTOR",
    "AccountSetup",
    "MemberSetup",
    "PlatformConnection",
    "PlatformSetup",
    "SubscriptionSetup",
    "WebhookSetup",
    "apply_account_setups",
    "stored_platform_credentials",
    "stored_webhook_ciphertexts",
]
__getattr__ = face(__name__, _OFFERED)
