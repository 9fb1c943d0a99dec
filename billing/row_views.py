"""Rows turned into the frozen views billing hands out (:mod:`billing.views`): the one place an
ORM row becomes a plain value."""

from __future__ import annotations

import json
from collections.abc import Iterable
from fractions import Fraction

from billing.models import Account, LedgerEntry, SeatChangeRequest, Subscription
from billing.money import Money
from billing.periods import Interval, Period
from billing.products import Product
from billing.proration import DecreasePolicy, LedgerKind, ProrationRule
from billing.requests import RequestStatus
from billing.storage import stored_lines
from billing.views import AccountView, LedgerLineView, SeatChangeView, SubscriptionView


def account_view(row: Account) -> AccountView:
    return AccountView(
        id=row.id,
        name=row.name,
        display_name=row.display_name,
        currency=row.currency,
        timezone=row.timezone,
        team_id=row.team_id,
        channel_id=row.channel_id,
    )


def subscription_view(row: Subscription, period: Period) -> SubscriptionView:
    return SubscriptionView(
        id=row.id,
        account_id=row.account_id,
        product=Product(row.product),
        seats=row.seats,
        unit_price=Money(row.unit_price_minor, row.currency),
        interval=Interval(row.interval),
        anchor=row.anchor,
        rule=ProrationRule(row.proration_rule),
        decrease_policy=DecreasePolicy(row.decrease_policy),
        version=row.version,
        period=period,
        started_at=row.started_at,
        initial_seats=row.initial_seats,
    )


def stored_period(row: Subscription) -> Period:
    return Period(row.current_period_start, row.current_period_end)


def request_view(row: SeatChangeRequest, subscription: Subscription) -> SeatChangeView:
    fraction = Fraction(row.quoted_fraction)
    return SeatChangeView(
        id=row.id,
        account_id=subscription.account_id,
        subscription_id=row.subscription_id,
        product=Product(subscription.product),
        old_seats=row.old_seats,
        new_seats=row.new_seats,
        reason=row.reason,
        status=RequestStatus(row.status),
        revision=row.quote_revision,
        idempotency_key=row.idempotency_key,
        requested_by_team=row.requested_by_team,
        requested_by_user=row.requested_by_user,
        quoted_at=row.quoted_at,
        effective_at=row.effective_at,
        period=row.quoted_period,
        quoted_version=row.quoted_version,
        fraction=f"{fraction.numerator}/{fraction.denominator}",
        lines=stored_lines(row),
        net=Money(row.net_minor, row.currency),
        decided_by_team=row.decided_by_team,
        decided_by_user=row.decided_by_user,
        decided_at=row.decided_at,
        applied_at=row.applied_at,
        submitted_at=row.submitted_at,
        approvers=people(row.approvers),
        escalated_at=row.escalated_at,
        decision_reason=row.decision_reason,
        slack_channel_id=row.slack_channel_id,
        slack_message_ts=row.slack_message_ts,
        created_at=row.created_at,
        updated_at=row.updated_at,
        unit_price=Money(subscription.unit_price_minor, subscription.currency),
        interval=Interval(subscription.interval),
        rule=ProrationRule(subscription.proration_rule),
        source=row.source,
    )


def people(text: str | None) -> tuple[tuple[str, str], ...]:
    """``[[team, user], …]`` JSON as a tuple of (team, user) pairs (empty when unset)."""
    if not text:
        return ()
    return tuple((str(team), str(user)) for team, user in json.loads(text))


def people_json(persons: Iterable[tuple[str, str]]) -> str:
    """The JSON :func:`people` reads."""
    return json.dumps([[team, user] for team, user in persons])


def ledger_view(entry: LedgerEntry, subscription: Subscription) -> LedgerLineView:
    return LedgerLineView(
        id=entry.id,
        subscription_id=entry.subscription_id,
        product=Product(subscription.product),
        request_id=entry.request_id,
        kind=LedgerKind(entry.kind),
        quantity=entry.quantity,
        amount=Money(entry.amount_minor, entry.currency),
        period_start=entry.period_start,
        period_end=entry.period_end,
        created_at=entry.created_at,
        idempotency_key=entry.idempotency_key,
    )
