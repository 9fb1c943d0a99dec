"""``seatbot prorate``: the pure proration calculator."""

from __future__ import annotations

import json
from typing import TypeVar

import typer

from billing.formatting import format_period
from billing.money import Money, MoneyError
from billing.periods import Period, PeriodError, zone
from billing.proration import (
    DecreasePolicy,
    ProrationError,
    ProrationRule,
    prorate_quantity_change,
)
from bot.cli.commands import add_command
from bot.cli.errors import fail_bad_input, parse_seat_count
from bot.cli.instants import parse_instant
from bot.cli.output import AsJson, output_console
from bot.cli.proration_render import proration_document, proration_summary, proration_table

_Choice = TypeVar("_Choice", ProrationRule, DecreasePolicy)


def _choice(option: str, text: str, kind: type[_Choice]) -> _Choice:
    try:
        return kind(text.strip().lower())
    except ValueError:
        allowed = "|".join(member.value for member in kind)
        raise fail_bad_input(f"{option}: {text!r} is not one of {allowed}") from None


def prorate(
    unit_price: str = typer.Option(..., "--unit-price", help="Price of one seat for one period."),
    currency: str = typer.Option(..., "--currency", help="ISO 4217 code, e.g. USD, JPY."),
    period_start: str = typer.Option(..., "--period-start", help="YYYY-MM-DD or ISO instant."),
    period_end: str = typer.Option(
        ..., "--period-end", help="Where the period ends: the first day of the next one."
    ),
    at: str = typer.Option(..., "--at", help="When the change takes effect."),
    old: str = typer.Option(..., "--from", help="Seats before the change."),
    new: str = typer.Option(..., "--to", help="Seats after the change."),
    rule: str = typer.Option("daily", "--rule", help="daily | seconds | none."),
    decrease_policy: str = typer.Option(
        "prorated", "--decrease-policy", help="prorated | none (decreases credit nothing)."
    ),
    tz: str = typer.Option("UTC", "--tz", help="IANA time zone for dates and days."),
    as_json: AsJson = False,
) -> None:
    """Prorate a seat change: a credit for the old quantity, a charge for the new, and the net.

    Example: seatbot prorate --unit-price 30.00 --currency USD --period-start 2026-01-01
    --period-end 2026-02-01 --at 2026-01-16 --from 10 --to 12

    Nothing is read or stored: this is the calculator that quotes and the ledger use.
    """
    try:
        zone_info = zone(tz)
    except PeriodError as exc:
        raise fail_bad_input(f"--tz: {exc}") from None
    try:
        price = Money.parse(unit_price, currency)
    except MoneyError as exc:
        option = "--currency" if "currency" in str(exc) else "--unit-price"
        raise fail_bad_input(f"{option}: {exc}") from None
    if price.minor < 0:
        raise fail_bad_input(f"--unit-price: the price of a seat cannot be negative ({unit_price})")
    start = parse_instant(period_start, zone_info, "--period-start")
    end = parse_instant(period_end, zone_info, "--period-end")
    change_at = parse_instant(at, zone_info, "--at")
    try:
        period = Period(start, end)
    except PeriodError as exc:
        raise fail_bad_input(f"--period-end: {exc}") from None
    if not period.start <= change_at <= period.end:
        raise fail_bad_input(f"--at: {at} is outside the period {format_period(period, zone_info)}")
    old_seats, new_seats = parse_seat_count(old, "--from"), parse_seat_count(new, "--to")
    chosen_rule = _choice("--rule", rule, ProrationRule)
    chosen_policy = _choice("--decrease-policy", decrease_policy, DecreasePolicy)
    try:
        result = prorate_quantity_change(
            old_quantity=old_seats,
            new_quantity=new_seats,
            unit_price=price,
            period=period,
            at=change_at,
            rule=chosen_rule,
            decrease_policy=chosen_policy,
            tz=zone_info,
        )
    except (ProrationError, PeriodError) as exc:
        # What is left: a daily rule over a period shorter than a day.
        raise fail_bad_input(f"--period-end: {exc}") from None
    if as_json:
        typer.echo(json.dumps(proration_document(result), indent=2))
    else:
        console = output_console()
        console.print(proration_summary(result, tz=zone_info), highlight=False)
        console.print(proration_table(result))


def register(app: typer.Typer) -> None:
    """Add ``seatbot prorate`` to the CLI."""
    add_command(app, "prorate", prorate)
