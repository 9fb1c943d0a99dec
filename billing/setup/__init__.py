"""Setting accounts up as the operator's accounts file describes them."""

from typing import TYPE_CHECKING

from billing.faces import face

if TYPE_CHECKING:
    from billing.setup.service import SETUP_ACTOR as SETUP_ACTOR
    from billing.setup.service import apply_account_setups as apply_account_setups
    from billing.setup.specs import AccountSetup as AccountSetup
    from billing.setup.specs import MemberSetup as MemberSetup
    from billing.setup.specs import PlatformSetup as PlatformSetup
    from billing.setup.specs import SubscriptionSetup as SubscriptionSetup
    from billing.setup.specs import WebhookSetup as WebhookSetup
    from billing.setup.store import PlatformConnection as PlatformConnection
    from billing.setup.store import stored_platform_credentials as stored_platform_credentials
    from billing.setup.store import stored_webhook_ciphertexts as stored_webhook_ciphertexts

__getattr__ = face(__name__, __file__)
