"""The next invoice as ``/seats status``, App Home and the daily digest show it: one section,
each product's renewal day (the account's) and amount at today's seats, and the requests
waiting for approval beside it, never added in (billing decides: :mod:`billing.seats.forecast`)."""

from __future__ import annotations

from slack_sdk.models.blocks import Block

from billing.formatting import format_day, format_money, per_period
from billing.seats import Forecast
from handlers.views.text import section

#: The waiting requests listed before "…and N more".
WAITING_SHOWN = 5


def next_invoice_lines(forecast: Forecast) -> list[str]:
    """``• *Axiom*: $300.00 on 31 Mar 2026 — 10 seats × $30.00 a month``, per product, then
    each request waiting for approval (at most :data:`WAITING_SHOWN`)."""
    lines = [
        f"• *{p.product.label}*: {format_money(p.amount)} on {format_day(p.renews_on)} — "
        f"{p.seats} seats × {format_money(p.unit_price)} {per_period(p.interval)}"
        for p in forecast.products
    ]
    lines += [
        f"• Waiting for approval, not included: {w.product.label} {w.old_seats} → "
        f"{w.new_seats} seats ({format_money(w.amount_if_approved)} if approved)"
        for w in forecast.waiting[:WAITING_SHOWN]
    ]
    if len(forecast.waiting) > WAITING_SHOWN:
        lines.append(f"…and {len(forecast.waiting) - WAITING_SHOWN} more waiting for approval")
    return lines


def next_invoice_blocks(forecast: Forecast | None) -> list[Block]:
    """The next invoice as one section (none for an account without subscriptions)."""
    if forecast is None or not forecast.products:
        return []
    return [section("*Next invoice* at today's seats\n" + "\n".join(next_invoice_lines(forecast)))]
