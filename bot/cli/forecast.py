"""``seatbot forecast``: the next invoice of each account, per product, at today's seats.

Billing decides (:mod:`billing.seats.forecast`); this module shows it. ``--json`` prints one
document: ``{"generated_at", "accounts": [{"account", "currency", "products": [{"product",
"seats", "unit_price", "renews_on", "amount"}], "pending": [...]}]}``, money as decimal strings
with the currency's decimals, ``renews_on`` the account's local day. Requests waiting for
approval are listed under ``pending``, never added in.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer
from rich import box
from rich.table import Table

from billing.formatting import format_day, format_money, json_instant, per_period
from bot.cli import shell
from bot.cli.commands import add_command
from bot.cli.errors import fail_bad_input, no_account_message
from bot.cli.output import AsJson, output_console

if TYPE_CHECKING:
    from billing.seats import Forecast


def forecast_document(forecast: Forecast) -> dict[str, Any]:
    """One account's forecast as the JSON contract says it."""
    return {
        "account": forecast.account.name,
        "currency": forecast.account.currency,
        "products": [
            {
                "product": p.product.value,
                "seats": p.seats,
                "unit_price": p.unit_price.to_decimal_string(),
                "renews_on": p.renews_on.isoformat(),
                "amount": p.amount.to_decimal_string(),
            }
            for p in forecast.products
        ],
        "pending": [
            {
                "request_id": w.request_id,
                "product": w.product.value,
                "from_seats": w.old_seats,
                "to_seats": w.new_seats,
                "amount_if_approved": w.amount_if_approved.to_decimal_string(),
            }
            for w in forecast.waiting
        ],
    }


def forecast_table(forecast: Forecast) -> Table:
    """One account's next invoice for people: the account's days, the currency's money."""
    table = Table(box=box.SIMPLE_HEAD)
    for column in ("product", "seats", "unit price", "renews on", "amount"):
        table.add_column(column, justify="right" if column != "product" else "left")
    for p in forecast.products:
        table.add_row(
            p.product.label,
            str(p.seats),
            f"{format_money(p.unit_price)} {per_period(p.interval)}",
            format_day(p.renews_on),
            format_money(p.amount),
        )
    if not forecast.products:
        table.add_row("(no subscriptions)", "", "", "", "")
    return table


def _waiting_lines(forecast: Forecast) -> list[str]:
    return [
        f"  waiting for approval (not included): {w.product.label} {w.old_seats} → "
        f"{w.new_seats} seats, {format_money(w.amount_if_approved)} if approved "
        f"(request {w.request_id})"
        for w in forecast.waiting
    ]


def forecast(
    account_name: str | None = typer.Argument(
        None, metavar="ACCOUNT", help="Account name (default: every account)."
    ),
    as_json: AsJson = False,
) -> None:
    """The next invoice: each product's next renewal day and amount at today's seats.

    The renewal day is the first day of the next billing period in the account's time zone; the
    amount is seats × unit price for one period. Requests waiting for approval are listed
    beside it, not added in.
    """
    from billing.books import SeatService

    at = shell.utc_now()
    with shell.sessions() as sessions:
        service = SeatService(sessions)
        if account_name is None:
            accounts = service.all_accounts()
        else:
            account = service.account_by_name(account_name)
            if account is None:
                raise fail_bad_input(no_account_message(account_name))
            accounts = [account]
        forecasts = [service.forecast(account.id, at) for account in accounts]
    if as_json:
        shell.echo_json(
            {
                "generated_at": json_instant(at),
                "accounts": [forecast_document(f) for f in forecasts],
            }
        )
        return
    console = output_console()
    for each in forecasts:
        account = each.account
        console.print(
            f"{account.name} · {account.display_name} · next invoice at today's seats "
            f"({account.currency}; renewal days in {account.timezone})",
            highlight=False,
            markup=False,
        )
        console.print(forecast_table(each))
        for line in _waiting_lines(each):
            console.print(line, highlight=False, markup=False)
    if not forecasts:
        typer.echo("no accounts yet: describe them in a YAML file and run `seatbot load FILE`")


def register(app: typer.Typer) -> None:
    """Add ``seatbot forecast``."""
    add_command(app, "forecast", forecast)
