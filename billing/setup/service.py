"""Setting accounts up as the operator describes them: accounts, members and their roles,
subscriptions and platform connections (``seatbot load`` reads them from a YAML file).

A use case over plain values (:class:`AccountSetup` and the specs inside it), run in the
caller's unit of work: rows are matched by natural keys (account name; member team + user;
product), written only when something differs, and every change leaves an audit event, so
applying the same setup twice changes nothing the second time.

The rules:

- ``seats`` is only the count a new subscription starts with. Afterwards seats change through
  seat-change requests (and so the ledger); a setup never overwrites them, and says so.
- A setup is the truth for an account's members and platform connections: those missing from
  it are removed. Subscriptions missing from it are kept (they have billing history).
- Changing a subscription's terms moves its ``version``, so every open quote on it goes stale.
- The currency cannot change once the account has subscriptions (a
  :class:`billing.errors.ConfigurationError` naming the line).
- Platform credentials arrive as opaque ciphertext (``credentials_encrypted``), made outside
  billing; the caller passes the stored string back unchanged when the credentials did not
  change, so a different string means different credentials. The same holds for the secret of
  the account's billing webhook (``billing_webhook``: where its billing events go), which the
  setup is also the truth for (removed when missing).

The report says, in words for the operator, every change made and every difference left alone
on purpose (with why); it never shows a credential.

The setup's values are in :mod:`billing.setup.specs`; platform connections, the billing
webhook and the approval policy are written by :mod:`billing.setup.store`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from billing.errors import ConfigurationError, Problem
from billing.formatting import format_day, format_money, format_period
from billing.models import ACCOUNT_CREATED, Account, AuditEvent, Member, Subscription
from billing.money import Money
from billing.periods import period_at, zone
from billing.products import Product
from billing.setup.specs import (
    AccountSetup,
    SetupChange,
    SetupReport,
    SubscriptionSetup,
    shown,
)
from billing.setup.store import (
    apply_approval_policy,
    apply_billing_webhook,
    apply_platform_connections,
)

#: The audit actor of changes made from the operator's accounts file.
SETUP_ACTOR = "cli:load"


def apply_account_setups(
    session: Session, setups: Sequence[AccountSetup], at: datetime, *, actor: str = SETUP_ACTOR
) -> SetupReport:
    """Create or update everything in ``setups`` inside the caller's transaction.

    ``at`` (aware) places new subscriptions in their current billing period and dates the audit
    events. Raises :class:`billing.errors.ConfigurationError` when a setup contradicts stored
    history; the caller then rolls back.
    """
    report = _Lines()
    for setup in setups:
        _Applier(session, setup, at, actor, report).apply()
    session.flush()
    return SetupReport(tuple(report.lines), report.changed)


class _Lines:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.changed = False

    def change(self, text: str) -> None:
        self.lines.append(text)
        self.changed = True

    def note(self, text: str) -> None:
        self.lines.append(text)


_ACCOUNT_FIELDS = {
    "display_name": "display name",
    "currency": "currency",
    "timezone": "time zone",
    "team_id": "Slack workspace",
    "channel_id": "report channel",
    "digest_at": "daily digest time",
}
_SUBSCRIPTION_TERMS = {
    "interval": "billing interval",
    "anchor": "billing anchor",
    "proration_rule": "proration",
    "decrease_policy": "decrease policy",
}


class _Applier:
    """Applies one account's setup, recording audit events and report lines."""

    def __init__(
        self, session: Session, setup: AccountSetup, at: datetime, actor: str, report: _Lines
    ) -> None:
        self.session = session
        self.setup = setup
        self.at = at
        self.actor = actor
        self.report = report
        self.name = setup.name

    def audit(self, account_id: int, action: str, **details: Any) -> None:
        self.session.add(
            AuditEvent(
                account_id=account_id,
                actor=self.actor,
                action=action,
                details=json.dumps(details, sort_keys=True, default=str),
                at=self.at,
            )
        )

    def record(self, account_id: int, change: SetupChange) -> None:
        """Audit ``change`` and tell the operator about it."""
        self.audit(account_id, change.action, **change.details)
        for line in change.lines:
            self.report.change(f"{self.name}: {line}")

    def apply(self) -> None:
        account = self._account()
        self._members(account)
        self._subscriptions(account)
        for change in apply_platform_connections(self.session, account, self.setup.platforms):
            self.record(account.id, change)
        for line in apply_approval_policy(self.session, account, self.setup.approval):
            self.audit(account.id, "approval_policy.updated")
            self.report.change(f"{self.name}: {line}")
        for change in apply_billing_webhook(self.session, account, self.setup.billing_webhook):
            self.record(account.id, change)

    # -- the account ------------------------------------------------------------------------

    def _account(self) -> Account:
        setup = self.setup
        values = {
            "display_name": setup.display_name,
            "currency": setup.currency,
            "timezone": setup.timezone,
            "team_id": setup.team_id,
            "channel_id": setup.channel_id,
            "digest_at": setup.digest_at,
        }
        account = self.session.scalars(
            select(Account).where(Account.name == setup.name)
        ).one_or_none()
        if account is None:
            account = Account(name=setup.name, **values)
            self.session.add(account)
            self.session.flush()
            self.audit(account.id, ACCOUNT_CREATED, name=setup.name)
            self.report.change(f"{self.name}: account created")
            return account
        if account.currency != setup.currency and self._has_subscriptions(account):
            raise ConfigurationError.of(
                [
                    Problem(
                        setup.line,
                        f"{setup.name}.currency",
                        f"cannot change from {account.currency} to {setup.currency} once the "
                        "account has subscriptions",
                    )
                ]
            )
        changed = _differences(account, values)
        for name, (old, new) in changed.items():
            setattr(account, name, new)
            self.report.change(f"{self.name}: {_ACCOUNT_FIELDS[name]} {shown(old)} → {shown(new)}")
        if changed:
            self.audit(account.id, "account.updated", fields=list(changed))
        return account

    def _has_subscriptions(self, account: Account) -> bool:
        first = self.session.scalars(
            select(Subscription.id).where(Subscription.account_id == account.id).limit(1)
        ).first()
        return first is not None

    # -- members ----------------------------------------------------------------------------

    def _members(self, account: Account) -> None:
        existing = {
            (row.team_id, row.user_id): row
            for row in self.session.scalars(select(Member).where(Member.account_id == account.id))
        }
        for member in self.setup.members:
            row = existing.pop((member.team_id, member.user_id), None)
            who = f"{member.team_id}/{member.user_id}"
            role = member.role.value
            if row is None:
                self.session.add(
                    Member(
                        account_id=account.id,
                        team_id=member.team_id,
                        user_id=member.user_id,
                        role=role,
                    )
                )
                self.audit(account.id, "member.added", member=who, role=role)
                self.report.change(f"{self.name}: member {who} added as {role}")
            elif row.role != role:
                self.audit(account.id, "member.role_changed", member=who, old=row.role, new=role)
                self.report.change(f"{self.name}: member {who} is now {role} (was {row.role})")
                row.role = role
        for (team_id, user_id), row in sorted(existing.items()):
            self.session.delete(row)
            self.audit(account.id, "member.removed", member=f"{team_id}/{user_id}")
            self.report.change(f"{self.name}: member {team_id}/{user_id} removed (not in the file)")

    # -- subscriptions ----------------------------------------------------------------------

    def _subscriptions(self, account: Account) -> None:
        tz = zone(self.setup.timezone)
        existing = {
            row.product: row
            for row in self.session.scalars(
                select(Subscription).where(Subscription.account_id == account.id)
            )
        }
        for sub in self.setup.subscriptions:
            row = existing.pop(sub.product.value, None)
            if row is None:
                self._create_subscription(account, sub, tz)
            else:
                self._update_subscription(account, row, sub, tz)
        for product, row in sorted(existing.items()):
            self.report.note(
                f"{self.name}: {Product(product).label} subscription kept ({row.seats} seats) — "
                "it is not in the file, but a subscription keeps its billing history"
            )

    def _terms(self, sub: SubscriptionSetup) -> dict[str, Any]:
        return {
            "unit_price_minor": sub.unit_price_minor,
            "currency": self.setup.currency,
            "interval": sub.interval.value,
            "anchor": sub.anchor,
            "proration_rule": sub.rule.value,
            "decrease_policy": sub.decrease_policy.value,
        }

    def _create_subscription(self, account: Account, sub: SubscriptionSetup, tz: ZoneInfo) -> None:
        period = period_at(sub.anchor, sub.interval, self.at, tz)
        self.session.add(
            Subscription(
                account_id=account.id,
                product=sub.product.value,
                seats=sub.seats,
                initial_seats=sub.seats,
                started_at=period.start,
                current_period_start=period.start,
                current_period_end=period.end,
                version=1,
                **self._terms(sub),
            )
        )
        self.audit(account.id, "subscription.created", product=sub.product.value, seats=sub.seats)
        price = format_money(Money(sub.unit_price_minor, self.setup.currency))
        self.report.change(
            f"{self.name}: {sub.product.label} subscription created: {sub.seats} seats at "
            f"{price} per seat, {sub.interval.value}, current period {format_period(period, tz)}"
        )

    def _update_subscription(
        self, account: Account, row: Subscription, sub: SubscriptionSetup, tz: ZoneInfo
    ) -> None:
        label = sub.product.label
        changed = _differences(row, self._terms(sub))
        for name, (_, new) in changed.items():
            setattr(row, name, new)
        if "unit_price_minor" in changed:
            old, new = changed["unit_price_minor"]
            currency = self.setup.currency
            self.report.change(
                f"{self.name}: {label} price {format_money(Money(old, currency))} → "
                f"{format_money(Money(new, currency))} per seat (applies to changes and "
                "renewals from now on)"
            )
        for name, words in _SUBSCRIPTION_TERMS.items():
            if name in changed:
                old, new = (_shown(value) for value in changed[name])
                self.report.change(f"{self.name}: {label} {words} {old} → {new}")
        if {"anchor", "interval"} & changed.keys():
            period = period_at(sub.anchor, sub.interval, self.at, tz)
            row.current_period_start, row.current_period_end = period.start, period.end
            self.report.change(
                f"{self.name}: {label} current period is now {format_period(period, tz)}"
            )
        if changed:
            # Moving the version makes every open quote on this subscription stale.
            row.version += 1
            self.audit(
                account.id,
                "subscription.updated",
                product=sub.product.value,
                fields=list(changed),
            )
        if row.seats != sub.seats:
            self.report.note(
                f"{self.name}: {label} seats: {row.seats} kept — seat changes go through /seats "
                f"(the file says {sub.seats})"
            )


def _shown(value: object) -> str:
    """A stored term as people read it (a billing anchor is a day: ``5 Jan 2026``)."""
    return format_day(value) if isinstance(value, date) else str(value)


def _differences(row: object, values: Mapping[str, Any]) -> dict[str, tuple[Any, Any]]:
    """``{field: (stored, wanted)}`` for every field whose stored value differs."""
    return {
        name: (getattr(row, name), value)
        for name, value in values.items()
        if getattr(row, name) != value
    }
