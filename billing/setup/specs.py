"""What the operator's accounts file says, as billing's plain values (what ``seatbot load`` hands
to :func:`billing.setup.service.apply_account_setups`), and what applying them answers: the
report for the operator, each change made, and the conflict with stored history that stops it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from billing.access import Role
from billing.approvals.rules import ApprovalPolicy
from billing.periods import Interval
from billing.products import ConnectionKind, Product
from billing.proration import DecreasePolicy, ProrationRule


@dataclass(frozen=True)
class MemberSetup:
    """A Slack user's role in the account."""

    team_id: str
    user_id: str
    role: Role


@dataclass(frozen=True)
class SubscriptionSetup:
    """A product's subscription terms; ``seats`` only starts a new subscription. ``line`` is
    where it was described (for messages)."""

    product: Product
    seats: int
    unit_price_minor: int
    interval: Interval
    anchor: date
    rule: ProrationRule
    decrease_policy: DecreasePolicy
    line: int


@dataclass(frozen=True)
class PlatformSetup:
    """How to read a product's users: ``options`` holds settings only (no secret);
    ``credentials_encrypted`` is the opaque ciphertext of the credentials, or ``None``."""

    product: Product
    kind: ConnectionKind
    base_url: str | None
    file_path: str | None
    options: Mapping[str, Any] = field(hash=False)
    credentials_encrypted: str | None = field(default=None, repr=False)
    line: int = 0


@dataclass(frozen=True)
class WebhookSetup:
    """Where the account's billing events go: ``url``, the URL as people may read it
    (:func:`billing.formatting.shown_url`), and the opaque ciphertexts of the URL itself and of the
    Standard Webhooks secret that signs them (both set before applying). ``allow_private``:
    the operator lets it reach loopback and private addresses."""

    url: str
    url_encrypted: str | None = field(default=None, repr=False)
    secret_encrypted: str | None = field(default=None, repr=False)
    allow_private: bool = False
    line: int = 0


@dataclass(frozen=True)
class AccountSetup:
    """One account as the operator describes it."""

    name: str
    display_name: str
    currency: str
    timezone: str
    team_id: str
    channel_id: str | None
    members: tuple[MemberSetup, ...]
    subscriptions: tuple[SubscriptionSetup, ...]
    platforms: tuple[PlatformSetup, ...]
    line: int
    approval: ApprovalPolicy | None = None
    #: The daily digest's local time ("09:00"), or ``None`` for no digest (``reports:``).
    digest_at: str | None = None
    billing_webhook: WebhookSetup | None = None


@dataclass(frozen=True)
class SetupReport:
    """``lines``: what to tell the operator, in order; ``changed``: whether anything was
    written (a report may hold only notes about differences left alone)."""

    lines: tuple[str, ...]
    changed: bool


@dataclass(frozen=True)
class SetupChange:
    """One change applying a setup made: its audit event (``action``, ``details``: never a
    credential) and the report lines that tell the operator, without the account's name (the
    caller puts it in front)."""

    action: str
    details: Mapping[str, Any] = field(default_factory=dict)
    lines: tuple[str, ...] = ()


def shown(value: object) -> str:
    """A stored or wanted setting in a report line: ``none`` when it is unset."""
    return "none" if value is None else str(value)
