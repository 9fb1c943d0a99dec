"""Proration of a seat-quantity change inside a billing period.

Two lines, as Stripe and Kill Bill bill them: a credit for the old quantity's unused share of the
period and a charge for the new quantity's remaining share. Each line is computed exactly
(``Fraction``) and rounded once, half-up, to the currency's minor unit; the net is their sum.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta
from fractions import Fraction
from zoneinfo import ZoneInfo

from billing.errors import SeatbotError
from billing.money import Money, sum_money
from billing.periods import Period, PeriodError, local_date, require_aware


class ProrationRule(enum.StrEnum):
    """How the remaining share of a period is measured."""

    DAILY = "daily"  # whole days in the account's time zone; the change day bills the new qty
    SECONDS = "seconds"  # exact elapsed time, as Stripe does
    NONE = "none"  # no proration: the new quantity applies from the next period


class DecreasePolicy(enum.StrEnum):
    """What a decrease does inside the current period."""

    PRORATED = "prorated"  # credit the unused time of the removed seats
    NONE = "none"  # no lines: seats already paid for stay paid until the period ends


class LineKind(enum.StrEnum):
    CREDIT = "credit"
    CHARGE = "charge"


class LedgerKind(enum.StrEnum):
    """What a ledger entry records."""

    CREDIT = "credit"  # unused time of the old quantity (negative)
    CHARGE = "charge"  # remaining time of the new quantity (positive)
    RENEWAL = "renewal"  # a full period at the subscription's quantity (positive)


class ProrationError(SeatbotError):
    """Bad input to a proration: an instant outside the period, a negative quantity."""


@dataclass(frozen=True)
class ProrationLine:
    """One invoice line: a credit (negative) or a charge (positive) in minor units."""

    kind: LineKind
    quantity: int
    amount: Money


@dataclass(frozen=True)
class Proration:
    """The outcome of prorating a quantity change: the exact fraction, the lines and the net."""

    old_quantity: int
    new_quantity: int
    unit_price: Money
    period: Period
    at: datetime
    rule: ProrationRule
    decrease_policy: DecreasePolicy
    fraction: Fraction
    lines: tuple[ProrationLine, ...]

    @property
    def net(self) -> Money:
        return sum_money([line.amount for line in self.lines], self.unit_price.currency)


def remaining_fraction(period: Period, at: datetime, rule: ProrationRule, tz: ZoneInfo) -> Fraction:
    """The share of ``period`` left at ``at`` (1 at the start, 0 at the end), exactly."""
    require_aware(at)
    if not period.start <= at <= period.end:
        # Said without the instants: billing.formatting shows them, and it imports this
        # module, so whoever raises this for a person names the period (quote_change does).
        raise ProrationError("the change instant is outside the period")
    if rule is ProrationRule.NONE:
        return Fraction(0)
    if rule is ProrationRule.SECONDS:
        remaining = period.end - at
        whole = period.end - period.start
        return Fraction(_microseconds(remaining), _microseconds(whole))
    end_day = local_date(period.end, tz)
    remaining_days = (end_day - local_date(at, tz)).days
    whole_days = (end_day - local_date(period.start, tz)).days
    if whole_days <= 0:
        raise PeriodError("a daily-prorated period must span at least one day")
    return Fraction(remaining_days, whole_days)


def _microseconds(delta: timedelta) -> int:
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def prorate_quantity_change(
    *,
    old_quantity: int,
    new_quantity: int,
    unit_price: Money,
    period: Period,
    at: datetime,
    rule: ProrationRule = ProrationRule.DAILY,
    decrease_policy: DecreasePolicy = DecreasePolicy.PRORATED,
    tz: ZoneInfo,
) -> Proration:
    """Prorate a change from ``old_quantity`` to ``new_quantity`` seats at the instant ``at``.

    ``unit_price`` is the price of one seat for one full period. Returns the credit line
    ``-round(old × price × f)`` and the charge line ``+round(new × price × f)``, each in minor
    units; a decrease under ``DecreasePolicy.NONE``, an unchanged quantity or a zero fraction
    give no lines (net zero).
    """
    if old_quantity < 0 or new_quantity < 0:
        raise ProrationError("seat quantities cannot be negative")
    if unit_price.minor < 0:
        raise ProrationError("the unit price cannot be negative")
    fraction = remaining_fraction(period, at, rule, tz)
    lines: list[ProrationLine] = []
    is_skipped_decrease = new_quantity < old_quantity and decrease_policy is DecreasePolicy.NONE
    if new_quantity != old_quantity and fraction != 0 and not is_skipped_decrease:
        if old_quantity:
            credit = unit_price.times(fraction * old_quantity)
            lines.append(ProrationLine(LineKind.CREDIT, old_quantity, -credit))
        if new_quantity:
            charge = unit_price.times(fraction * new_quantity)
            lines.append(ProrationLine(LineKind.CHARGE, new_quantity, charge))
    return Proration(
        old_quantity=old_quantity,
        new_quantity=new_quantity,
        unit_price=unit_price,
        period=period,
        at=at,
        rule=rule,
        decrease_policy=decrease_policy,
        fraction=fraction,
        lines=tuple(lines),
    )
