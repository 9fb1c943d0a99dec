"""The billing hand-off: events written to the outbox and their delivery."""

from typing import TYPE_CHECKING

from billing.faces import face

if TYPE_CHECKING:
    from billing.events.destinations import (
        CREDENTIALS_PROBLEM,
        METADATA_REASON,
        refused_address,
        webhook_url_problem,
    )
    from billing.events.rules import (
        DEFAULT_RETRY_SCHEDULE,
        PING,
        OutboxStatus,
        RetrySchedule,
        event_body,
    )
    from billing.events.service import Delivery, FailureNotice, Outbox, OutboxEntry
    from billing.events.store import BillingWebhook, OutboxEvent

_OFFERED = {
    "destinations": (
        "CREDENTIALS_PROBLEM",
        "METADATA_REASON",
        "refused_address",
        "webhook_url_problem",
    ),
    "rules": (
        "DEFAULT_RETRY_SCHEDULE",
        "PING",
        "OutboxStatus",
        "RetrySchedule",
        "event_body",
    ),
    "service": (
        "Delivery",
        "FailureNotice",
        "Outbox",
        "OutboxEntry",
    ),
    "store": (
        "BillingWebhook",
        "OutboxEvent",
    ),
}
__all__ = [
    "CREDENTIALS_PROBLEM",
    "DEFAULT_RETRY_SCHEDULE",
    "METADATA_REASON",
    "PING",
    "BillingWebhook",
    "Delivery",
    "FailureNotice",
    "Outbox",
    "OutboxEntry",
    "OutboxEvent",
    "OutboxStatus",
    "RetrySchedule",
    "event_body",
    "refused_address",
    "webhook_url_problem",
]
__getattr__ = face(__name__, _OFFERED)
