"""``seatbot prorate``: the pure proration calculator."""

from __future__ import annotations

import json
from typing import TypeVar

import typer
from rich.console import Console

from billing.money import Money, MoneyError
from billing.periods import Period, PeriodError, zone
from billing.proration import (
    DecreasePolicy,
    ProrationError,
    ProrationRule,
    prorate_quantity_change,
)
from bot.cli.errors import fail_bad_input
from bot.instants import InstantError, parse_instant
from bot.proration_render import proration_document, proration_summary, proration_table


def _seats(option: str, text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise fail_bad_input(f"{option}: {text!r} is not a whole number of seats") from None
    if value < 0:
        raise fail_bad_input(f"{option}: seats cannot be negative ({value})")
    return value


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
    period_end: str = typer.Option(..., "--period-end", help="Exclusive end of the period."),
    at: str = typer.Option(..., "--at", help="When the change takes effect."),
    old: str = typer.Option(..., "--from", help="Seats before the change."),
    new: str = typer.Option(..., "--to", help="Seats after the change."),
    rule: str = typer.Option("daily", "--rule", help="daily | seconds | none."),
    decrease_policy: str = typer.Option(
        "prorated", "--decrease-policy", help="prorated | none (decreases credit nothing)."
    ),
    tz: str = typer.Option("UTC", "--tz", help="IANA time zone for dates and days."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON document."),
) -> None:
    """Prorate a seat change: a credit for the old quantity, a charge for the new, and the net.

    Example: seatbot prorate --unit-price 30.00 --currency USD --period-start 2026-01-01
    --period-end 2026-02-01 --at 2026-01-16 --from 10 --to 12
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
    instants = {}
    for option, text in (
        ("--period-start", period_start),
        ("--period-end", period_end),
        ("--at", at),
    ):
        try:
            instants[option] = parse_instant(text, zone_info)
        except InstantError as exc:
            raise fail_bad_input(f"{option}: {exc}") from None
    try:
        period = Period(instants["--period-start"], instants["--period-end"])
    except PeriodError as exc:
        raise fail_bad_input(f"--period-end: {exc}") from None
    try:
        result = prorate_quantity_change(
            old_quantity=_seats("--from", old),
            new_quantity=_seats("--to", new),
            unit_price=price,
            period=period,
            at=instants["--at"],
            rule=_choice("--rule", rule, ProrationRule),
            decrease_policy=_choice("--decrease-policy", decrease_policy, DecreasePolicy),
            tz=zone_info,
        )
    except (ProrationError, PeriodError) as exc:
        raise fail_bad_input(f"--at: {exc}") from None
    if as_json:
        typer.echo(json.dumps(proration_document(result), indent=2))
    else:
        console = Console()
        console.print(proration_summary(result, tz=zone_info), highlight=False)
        console.print(proration_table(result))


def register(app: typer.Typer) -> None:
    """Add ``seatbot prorate`` to the CLI."""
    app.command("prorate")(prorate)
