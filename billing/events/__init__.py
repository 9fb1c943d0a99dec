"""The billing hand-off: events written to the outbox and their delivery."""

from typing import TYPE_CHECKING

from billing.faces import face

if TYPE_CHECKING:
    from billing.events.destinations import CREDENTIALS_PROBLEM as CREDENTIALS_PROBLEM
    from billing.events.destinations import METADATA_REASON as METADATA_REASON
    from billing.events.destinations import refused_address as refused_address
    from billing.events.destinations import webhook_url_problem as webhook_url_problem
    from billing.events.rules import DEFAULT_RETRY_SCHEDULE as DEFAULT_RETRY_SCHEDULE
    from billing.events.rules import PING as PING
    from billing.events.rules import OutboxStatus as OutboxStatus
    from billing.events.rules import RetrySchedule as RetrySchedule
    from billing.events.rules import event_body as event_body
    from billing.events.service import Delivery as Delivery
    from billing.events.service import FailureNotice as FailureNotice
    from billing.events.service import Outbox as Outbox
    from billing.events.service import OutboxEntry as OutboxEntry
    from billing.events.store import BillingWebhook as BillingWebhook
    from billing.events.store import OutboxEvent as OutboxEvent

__getattr__ = face(__name__, __file__)
