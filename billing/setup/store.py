"""The setup's rows: each account's platform connections (how to read a product's users), its
billing webhook and its approval policy, written from the operator's setup in the caller's
transaction. The setup is the truth for all three: what it does not name is removed.

Credentials, the webhook secret and the webhook URL arrive as opaque ciphertext, made outside
billing (with the URL's shown form); the caller passes the stored string back unchanged when
they did not change (read with :func:`stored_platform_credentials` and
:func:`stored_webhook_ciphertexts`), so a different string means a different value. Audit
events and report lines name the fields that changed, never a credential, a secret, a URL's
query value or an option's value.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, Text, UniqueConstraint, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from billing.approvals.rules import ApprovalPolicy, Person
from billing.events.store import BillingWebhook
from billing.formatting import format_money
from billing.models import Account, ApprovalPolicyRow, Base, _in_check
from billing.money import Money
from billing.products import ConnectionKind, Product
from billing.row_views import people_json
from billing.setup.specs import PlatformSetup, SetupChange, WebhookSetup, shown


class PlatformConnection(Base):
    """How to read one product's users for one account. ``options`` is JSON text holding no
    secret; ``credentials_encrypted`` is opaque ciphertext made and opened outside billing
    (``bot.runtime.platform_credentials``), never printed."""

    __tablename__ = "platform_connections"
    __table_args__ = (
        UniqueConstraint("account_id", "product"),
        CheckConstraint(_in_check("product", Product), name="product"),
        CheckConstraint(_in_check("kind", ConnectionKind), name="kind"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    product: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16))
    base_url: Mapped[str | None] = mapped_column(String(500))
    file_path: Mapped[str | None] = mapped_column(String(1000))
    options: Mapped[str] = mapped_column(Text, default="{}")
    credentials_encrypted: Mapped[str | None] = mapped_column(Text)


def stored_platform_credentials(session: Session, account_name: str) -> dict[Product, str]:
    """The stored (opaque) credential ciphertext of each of the account's connections."""
    rows = session.execute(
        select(PlatformConnection.product, PlatformConnection.credentials_encrypted)
        .join(Account, Account.id == PlatformConnection.account_id)
        .where(Account.name == account_name, PlatformConnection.credentials_encrypted.is_not(None))
    ).all()
    return {Product(product): ciphertext for product, ciphertext in rows}


def stored_webhook_ciphertexts(session: Session, account_name: str) -> tuple[str, str] | None:
    """The stored (opaque) ciphertexts of the account's billing webhook URL and secret, if any."""
    row = session.execute(
        select(BillingWebhook.url_encrypted, BillingWebhook.secret_encrypted)
        .join(Account, Account.id == BillingWebhook.account_id)
        .where(Account.name == account_name)
    ).one_or_none()
    return None if row is None else (row[0], row[1])


# -- platform connections -------------------------------------------------------------------


def apply_platform_connections(
    session: Session, account: Account, platforms: Sequence[PlatformSetup]
) -> list[SetupChange]:
    """Add, update and remove ``account``'s connections to match ``platforms``; the changes
    made, in order (those in ``platforms`` first, then the removed ones by product)."""
    changes: list[SetupChange] = []
    existing = {
        row.product: row
        for row in session.scalars(
            select(PlatformConnection).where(PlatformConnection.account_id == account.id)
        )
    }
    for platform in platforms:
        row = existing.pop(platform.product.value, None)
        if row is None:
            changes.append(_add_platform(session, account, platform))
        else:
            changes.extend(_update_platform(row, platform))
    for product, row in sorted(existing.items()):
        session.delete(row)
        changes.append(
            SetupChange(
                "platform.removed",
                {"product": product},
                (f"{Product(product).label} connection removed (not in the file)",),
            )
        )
    return changes


def _add_platform(session: Session, account: Account, platform: PlatformSetup) -> SetupChange:
    session.add(
        PlatformConnection(
            account_id=account.id,
            product=platform.product.value,
            kind=platform.kind.value,
            base_url=platform.base_url,
            file_path=platform.file_path,
            options=_options_text(platform.options),
            credentials_encrypted=platform.credentials_encrypted,
        )
    )
    where = (
        f"API at {platform.base_url}"
        if platform.kind is ConnectionKind.API
        else f"import file {platform.file_path}"
    )
    with_credentials = ", with credentials" if platform.credentials_encrypted else ""
    return SetupChange(
        "platform.added",
        {
            "product": platform.product.value,
            "kind": platform.kind.value,
            "credentials": platform.credentials_encrypted is not None,
        },
        (f"{platform.product.label} connection added ({where}{with_credentials})",),
    )


def _update_platform(row: PlatformConnection, platform: PlatformSetup) -> list[SetupChange]:
    words: list[str] = []
    fields: list[str] = []
    for name, title, new in (
        ("kind", "kind", platform.kind.value),
        ("base_url", "base URL", platform.base_url),
        ("file_path", "file", platform.file_path),
    ):
        old = getattr(row, name)
        if old != new:
            setattr(row, name, new)
            fields.append(name)
            words.append(f"{title} {shown(old)} → {shown(new)}")
    new_options = _options_text(platform.options)
    if row.options != new_options:
        settings = _changed_keys(_loads(row.options), dict(platform.options))
        row.options = new_options
        fields.append("options")
        words.append(f"settings changed ({', '.join(settings) or 'format'})")
    old_secret, new_secret = row.credentials_encrypted, platform.credentials_encrypted
    if old_secret != new_secret:
        row.credentials_encrypted = new_secret
        fields.append("credentials")
        if old_secret is None:
            words.append("credentials added")
        elif new_secret is None:
            words.append("credentials removed")
        else:
            words.append("credentials changed")
    if not fields:
        return []
    # Field names only: never a credential, never an option value.
    label = f"{platform.product.label} connection"
    return [
        SetupChange(
            "platform.updated",
            {"product": platform.product.value, "fields": fields},
            tuple(f"{label}: {text}" for text in words),
        )
    ]


# -- the billing webhook ----------------------------------------------------------------------


def apply_billing_webhook(
    session: Session, account: Account, wanted: WebhookSetup | None
) -> list[SetupChange]:
    """Add, update or remove ``account``'s billing webhook to match ``wanted`` (``None``: no
    webhook); the changes made. :class:`ValueError` if ``wanted`` has no encrypted URL or
    secret."""
    row = session.scalars(
        select(BillingWebhook).where(BillingWebhook.account_id == account.id)
    ).one_or_none()
    if wanted is None:
        if row is None:
            return []
        session.delete(row)
        return [SetupChange("webhook.removed", {}, ("billing webhook removed (not in the file)",))]
    if not wanted.secret_encrypted or not wanted.url_encrypted:
        raise ValueError("a billing webhook is applied with its URL and secret encrypted")
    if row is None:
        session.add(
            BillingWebhook(
                account_id=account.id,
                url=wanted.url,
                url_encrypted=wanted.url_encrypted,
                secret_encrypted=wanted.secret_encrypted,
                allow_private_destinations=wanted.allow_private,
            )
        )
        private = ", private addresses allowed" if wanted.allow_private else ""
        return [
            SetupChange("webhook.added", {}, (f"billing webhook added ({wanted.url}{private})",))
        ]
    lines: list[str] = []
    fields: list[str] = []
    if row.url != wanted.url:
        lines.append(f"billing webhook URL {row.url} → {wanted.url}")
    elif row.url_encrypted != wanted.url_encrypted:
        lines.append(f"billing webhook URL's query values changed ({wanted.url})")
    if row.url != wanted.url or row.url_encrypted != wanted.url_encrypted:
        row.url, row.url_encrypted = wanted.url, wanted.url_encrypted
        fields.append("url")
    if row.secret_encrypted != wanted.secret_encrypted:
        lines.append("billing webhook secret changed")
        row.secret_encrypted = wanted.secret_encrypted
        fields.append("secret")
    if row.allow_private_destinations != wanted.allow_private:
        lines.append(
            "billing webhook may reach private addresses"
            if wanted.allow_private
            else "billing webhook to public addresses only (private ones no longer allowed)"
        )
        row.allow_private_destinations = wanted.allow_private
        fields.append("allow_private_destinations")
    if not fields:
        return []
    # Field names only: never the secret, never a query value.
    return [SetupChange("webhook.updated", {"fields": fields}, tuple(lines))]


def _options_text(options: Mapping[str, Any]) -> str:
    return json.dumps(dict(options), sort_keys=True)


def _loads(text: str | None) -> dict[str, Any]:
    try:
        value = json.loads(text or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _changed_keys(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    keys: Iterable[str] = set(old) | set(new)
    return sorted(key for key in keys if old.get(key) != new.get(key))


# -- the approval policy ----------------------------------------------------------------------


def _seconds(duration: timedelta | None) -> int | None:
    return None if duration is None else int(duration.total_seconds())


def _columns(policy: ApprovalPolicy) -> dict[str, Any]:
    return {
        "approvers": people_json(policy.approvers),
        "channel_id": policy.channel_id,
        "require_decrease": policy.require_decrease,
        "increase_over_seats": policy.increase_over_seats,
        "net_charge_over_minor": policy.net_charge_over_minor,
        "remind_after_s": _seconds(policy.remind_after),
        "escalate_after_s": _seconds(policy.escalate_after),
        "escalate_to": people_json(policy.escalate_to),
        "expire_after_s": _seconds(policy.expire_after),
    }


def describe_policy(policy: ApprovalPolicy, currency: str) -> str:
    """The policy in a sentence, for the operator."""

    def who(persons: tuple[Person, ...]) -> str:
        return ", ".join(user for _, user in persons) or "the account's managers"

    rules = []
    if policy.require_decrease:
        rules.append("every decrease")
    if policy.increase_over_seats is not None:
        rules.append(f"increases of more than {policy.increase_over_seats} seats at once")
    if policy.net_charge_over_minor is not None:
        amount = format_money(Money(policy.net_charge_over_minor, currency))
        rules.append(f"net charges above {amount}")
    needs = "; ".join(rules) or "nothing (no rule routes changes to approval)"
    return f"approval by {who(policy.approvers)} for {needs}"


def apply_approval_policy(
    session: Session, account: Account, policy: ApprovalPolicy | None
) -> list[str]:
    """Store (or remove) the account's policy in the caller's transaction; the report lines."""
    row = session.scalars(
        select(ApprovalPolicyRow).where(ApprovalPolicyRow.account_id == account.id)
    ).one_or_none()
    if policy is None:
        if row is None:
            return []
        session.delete(row)
        return ["approval policy removed: changes apply on the owner's confirmation"]
    columns = _columns(policy)
    if row is None:
        session.add(ApprovalPolicyRow(account_id=account.id, **columns))
        return [f"approval policy set: {describe_policy(policy, account.currency)}"]
    if all(getattr(row, name) == value for name, value in columns.items()):
        return []
    for name, value in columns.items():
        setattr(row, name, value)
    return [f"approval policy changed: {describe_policy(policy, account.currency)}"]
