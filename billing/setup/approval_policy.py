"""Storing an account's approval policy from the operator's accounts file, and saying in words
what changed."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from billing.approvals.rules import ApprovalPolicy, Person
from billing.models import Account, ApprovalPolicyRow
from billing.money import Money
from billing.storage import people_json


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
        amount = Money(policy.net_charge_over_minor, currency).to_decimal_string()
        rules.append(f"net charges above {amount} {currency}")
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
