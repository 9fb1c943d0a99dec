"""Rendering a :class:`~billing.proration.Proration` for the terminal and as JSON."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from rich.table import Table

from billing.formatting import (
    UTC_ZONE,
    format_instant,
    format_money,
    format_period,
    format_share,
    json_instant,
)
from billing.proration import DecreasePolicy, Proration


def proration_document(proration: Proration) -> dict[str, Any]:
    """One JSON-ready document; money as decimal strings plus ``currency``."""
    return {
        "amount": proration.net.to_decimal_string(),
        "currency": proration.unit_price.currency,
        "fraction": f"{proration.fraction.numerator}/{proration.fraction.denominator}",
        "lines": [
            {
                "kind": line.kind.value,
                "quantity": line.quantity,
                "amount": line.amount.to_decimal_string(),
            }
            for line in proration.lines
        ],
        "from": proration.old_quantity,
        "to": proration.new_quantity,
        "unit_price": proration.unit_price.to_decimal_string(),
        "rule": proration.rule.value,
        "decrease_policy": proration.decrease_policy.value,
        "period_start": json_instant(proration.period.start),
        "period_end": json_instant(proration.period.end),
        "at": json_instant(proration.at),
    }


def proration_summary(proration: Proration, *, tz: ZoneInfo | None = None) -> str:
    """The context of a proration in a few short lines for people: quantities and price, the
    period (first and last day) and the change instant in ``tz`` (UTC by default), and the
    share of the period billed in words (exact fractions are only in the JSON document)."""
    shown = tz or UTC_ZONE
    share = format_share(proration.fraction, proration.rule, proration.period, proration.at, shown)
    decreases = (
        "credited" if proration.decrease_policy is DecreasePolicy.PRORATED else "not credited"
    )
    return "\n".join(
        [
            f"{proration.old_quantity} → {proration.new_quantity} seats at "
            f"{format_money(proration.unit_price)} per seat per period",
            f"period   {format_period(proration.period, shown)}",
            f"change   {format_instant(proration.at, shown)}",
            f"billed   {share} ({proration.rule.value} proration; decreases {decreases})",
        ]
    )


def proration_table(proration: Proration) -> Table:
    """A readable table: one row per line, then the net."""
    table = Table()
    table.add_column("line")
    table.add_column("seats", justify="right")
    table.add_column("amount", justify="right")
    if not proration.lines:
        table.add_row("(nothing to prorate)", "", "")
    for line in proration.lines:
        table.add_row(line.kind.value, str(line.quantity), format_money(line.amount))
    table.add_section()
    table.add_row("net", "", format_money(proration.net), style="bold")
    return table
