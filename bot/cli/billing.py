"""Billing commands: ``seatbot accounts``, ``quote`` and ``ledger``.

Every command reads ``DATABASE_URL`` when it runs. People see the account's time zone, inclusive
last days and shares in words (:mod:`billing.formatting`); ``--json`` prints one JSON document
with the exact values (ISO 8601 UTC instants, exclusive period ends, fractions, money as
decimal strings plus ``"currency"``). No command prints platform credentials or the database
URL's password.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import typer
from rich import box
from rich.table import Table

from billing.errors import InvalidSeatCount, QuoteUnavailable
from billing.formatting import format_instant, format_money, format_period, json_instant
from billing.money import Money
from billing.periods import Period, zone
from billing.products import parse_product
from bot.cli import shell
from bot.cli.commands import add_command
from bot.cli.errors import (
    fail,
    fail_bad_input,
    for_the_operator,
    no_account_message,
    no_subscription_message,
    not_a_product_message,
    parse_seat_count,
)
from bot.cli.instants import parse_instant
from bot.cli.output import AsJson, output_console
from bot.cli.proration_render import proration_document, proration_summary, proration_table

if TYPE_CHECKING:
    from billing.books import AccountView, LedgerLineView, SubscriptionView
    from billing.seats import Quote, UsersNeeded, UsersSource
    from billing.users import UserListing


def _users_from_the_database(needed: UsersNeeded) -> UserListing:
    # Imported when a decrease is quoted: the wiring reaches the platform clients.
    from bot.cli.wiring import platform_users

    return platform_users(needed)


def accounts(
    as_json: AsJson = False,
) -> None:
    """List accounts with their subscriptions and platform connections (never credentials).

    Periods are shown in each account's time zone, first and last day included; --json also
    gives each connection's base URL or file.
    """
    from sqlalchemy import select

    from billing.books import SeatService
    from billing.setup import PlatformConnection

    at = shell.utc_now()
    with shell.sessions() as sessions:
        service = SeatService(sessions)
        documents: list[dict[str, Any]] = []
        tables: list[Table] = []
        for account in service.all_accounts():
            with sessions() as session:
                connections = session.execute(
                    select(
                        PlatformConnection.product,
                        PlatformConnection.kind,
                        PlatformConnection.base_url,
                        PlatformConnection.file_path,
                    )
                    .where(PlatformConnection.account_id == account.id)
                    .order_by(PlatformConnection.product)
                ).all()
            subscriptions = service.subscriptions(account.id, at)
            platforms = [
                {"product": p, "kind": k, "base_url": url, "file_path": path}
                for p, k, url, path in connections
            ]
            documents.append(
                {
                    "name": account.name,
                    "display_name": account.display_name,
                    "currency": account.currency,
                    "timezone": account.timezone,
                    "team_id": account.team_id,
                    "channel_id": account.channel_id,
                    "subscriptions": [_subscription_document(sub) for sub in subscriptions],
                    "platforms": platforms,
                }
            )
            tables.append(_account_table(account, subscriptions, platforms))
    if as_json:
        shell.echo_json({"accounts": documents})
        return
    console = output_console()
    for table in tables:
        console.print(table)
    if not tables:
        typer.echo("no accounts yet: describe them in a YAML file and run `seatbot load FILE`")


_KIND_WORDS = {"api": "API", "import_file": "user file"}


def _account_table(
    account: AccountView,
    subscriptions: list[SubscriptionView],
    platforms: list[dict[str, Any]],
) -> Table:
    """One account's subscriptions; periods are first and last day in the account's zone."""
    tz = zone(account.timezone)
    table = Table(
        title=f"{account.name} · {account.display_name} · {account.currency} · {tz.key}",
        title_justify="left",
    )
    for column in ("product", "seats", "unit price", "current period", "users from"):
        table.add_column(
            column,
            justify="right" if column in ("seats", "unit price") else "left",
            no_wrap=column in ("current period", "unit price"),
        )
    by_product = {p["product"]: p for p in platforms}
    for sub in subscriptions:
        platform = by_product.get(sub.product.value)
        table.add_row(
            sub.product.label,
            str(sub.seats),
            format_money(sub.unit_price),
            format_period(sub.period, tz),
            _KIND_WORDS.get(platform["kind"], platform["kind"]) if platform else "not connected",
        )
    if not subscriptions:
        table.add_row("(no subscriptions)", "", "", "", "")
    return table


def _subscription_document(sub: SubscriptionView) -> dict[str, Any]:
    return {
        "product": sub.product.value,
        "seats": sub.seats,
        "unit_price": sub.unit_price.to_decimal_string(),
        "currency": sub.unit_price.currency,
        "interval": sub.interval.value,
        "anchor": sub.anchor.isoformat(),
        "rule": sub.rule.value,
        "decrease_policy": sub.decrease_policy.value,
        "version": sub.version,
        "period_start": json_instant(sub.period.start),
        "period_end": json_instant(sub.period.end),
    }


def _make_quote_command(users: UsersSource | None) -> Callable[..., None]:
    def quote(
        account_name: str = typer.Argument(..., metavar="ACCOUNT", help="Account name."),
        product_name: str = typer.Argument(
            ..., metavar="PRODUCT", help="contact-center (cc), axiom or matrix."
        ),
        seats_text: str = typer.Argument(..., metavar="SEATS", help="The new seat count."),
        at_text: str | None = typer.Option(
            None,
            "--at",
            help="YYYY-MM-DD (midnight, account time zone) or ISO 8601 instant; default now.",
        ),
        as_json: AsJson = False,
    ) -> None:
        """Preview the proration of changing a real subscription to SEATS seats.

        Decreases are checked against the users that exist on the platform (exit 1 when it
        cannot be read: the decrease would be refused). Nothing is stored.
        """
        from billing.books import SeatService

        product = parse_product(product_name)
        if product is None:
            raise fail_bad_input(not_a_product_message(product_name))
        seats = parse_seat_count(seats_text, "SEATS")
        with shell.sessions() as sessions:
            service = SeatService(sessions)
            account = service.account_by_name(account_name)
            if account is None:
                raise fail_bad_input(no_account_message(account_name))
            tz = zone(account.timezone)
            at = parse_instant(at_text, tz, "--at") if at_text else shell.utc_now()
            subscription = next(
                (s for s in service.subscriptions(account.id, at) if s.product is product), None
            )
            if subscription is None:
                raise fail_bad_input(no_subscription_message(account.name, product))
            try:
                result = service.quote(subscription.id, seats, at, now=shell.utc_now(), users=users)
            except InvalidSeatCount as exc:
                raise fail_bad_input(f"SEATS: {exc.message}") from None
            except QuoteUnavailable as exc:
                raise fail_bad_input(f"--at: {exc.message}") from None
        check = _platform_check_document(result, checked=users is not None)
        if as_json:
            document = proration_document(result.proration)
            document.update(
                account=account.name,
                product=product.value,
                is_decrease=result.is_decrease,
                platform_check=check,
            )
            shell.echo_json(document)
        else:
            console = output_console()
            console.print(f"{account.display_name} · {product.label}", highlight=False)
            console.print(proration_summary(result.proration, tz=tz), highlight=False)
            console.print(proration_table(result.proration))
            console.print(f"platform check: {check['status']} — {check['detail']}", highlight=False)
        if check["status"] == "unknown":  # the decrease would be refused: a failure, exit 1
            raise fail(f"the platform check could not be done: {check['detail']}")

    return quote


def _platform_check_document(quote: Quote, *, checked: bool) -> dict[str, str]:
    """The decrease rule's answer (billing's :class:`~billing.seats.decrease.SeatCheck`) in
    words: ``passed``, ``blocked`` (users must be deleted first) or ``unknown`` (the platform
    could not be read, so the decrease is refused)."""
    if not quote.is_decrease:
        return {"status": "not_needed", "detail": "an increase needs no platform check"}
    check = quote.check
    if not checked or check is None:
        return {"status": "not_run", "detail": "no platform check is configured"}
    label = quote.subscription.product.label
    if check.allowed:
        return {"status": "passed", "detail": f"{check.user_count} users exist on {label}"}
    if check.blocked:
        names = ", ".join(user.email for user in check.blocking_users[:10])
        more = len(check.blocking_users) - 10
        suffix = f" and {more} more" if more > 0 else ""
        detail = (
            f"{check.user_count} users exist on {label}; delete {check.must_delete} there "
            f"first (likeliest: {names}{suffix})"
        )
        return {"status": "blocked", "detail": detail}
    reason = check.reason or "the platform could not be read"
    return {"status": "unknown", "detail": for_the_operator(reason)}


_LEDGER_COLUMNS = (
    "id",
    "created_at",
    "product",
    "kind",
    "quantity",
    "amount",
    "currency",
    "period_start",
    "period_end",
    "request_id",
    "idempotency_key",
)


def _ledger_row(line: LedgerLineView) -> dict[str, Any]:
    return {
        "id": line.id,
        "created_at": json_instant(line.created_at),
        "product": line.product.value,
        "kind": line.kind.value,
        "quantity": line.quantity,
        "amount": line.amount.to_decimal_string(),
        "currency": line.amount.currency,
        "period_start": json_instant(line.period_start),
        "period_end": json_instant(line.period_end),
        "request_id": line.request_id,
        "idempotency_key": line.idempotency_key,
    }


def ledger(
    account_name: str = typer.Argument(..., metavar="ACCOUNT", help="Account name."),
    as_json: AsJson = False,
    as_csv: bool = typer.Option(False, "--csv", help="Print CSV with a header row."),
) -> None:
    """Print an account's ledger: every credit, charge and renewal, in the order written.

    The table shows the account's time zone; --json and --csv give exact UTC instants and
    exclusive period ends.
    """
    from billing.books import SeatService

    if as_json and as_csv:
        raise fail_bad_input("--json and --csv cannot be combined")
    with shell.sessions() as sessions:
        service = SeatService(sessions)
        account = service.account_by_name(account_name)
        if account is None:
            raise fail_bad_input(no_account_message(account_name))
        lines = service.ledger(account.id)
    rows = [_ledger_row(line) for line in lines]
    total_minor = sum(line.amount.minor for line in lines)
    if as_json:
        shell.echo_json(
            {
                "account": account.name,
                "currency": account.currency,
                "total": Money(total_minor, account.currency).to_decimal_string(),
                "entries": rows,
            }
        )
        return
    if as_csv:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=_LEDGER_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        typer.echo(buffer.getvalue(), nl=False)
        return
    tz = zone(account.timezone)
    title = f"{account.display_name} ledger ({account.currency}; times in {tz.key})"
    output_console().print(ledger_table(lines, tz, title))


def ledger_table(lines: Sequence[LedgerLineView], tz: ZoneInfo, title: str) -> Table:
    """The ledger for people (the CLI's and the demo's): times and periods in ``tz``, last
    days inclusive."""
    table = Table(
        title=title,
        title_justify="left",
        box=box.SIMPLE_HEAD,
        padding=(0, 1, 0, 0),
        pad_edge=False,
    )
    for column in ("written", "product", "kind", "seats", "amount", "period"):
        table.add_column(
            column,
            justify="right" if column in ("seats", "amount") else "left",
            no_wrap=column in ("written", "amount", "period"),
        )
    for line in lines:
        period_text = format_period(Period(line.period_start, line.period_end), tz)
        table.add_row(
            format_instant(line.created_at, tz, show_zone=False),
            line.product.label,
            line.kind.value,
            str(line.quantity),
            format_money(line.amount),
            period_text,
        )
    if not lines:
        table.add_row("(nothing written yet)", "", "", "", "", "")
    return table


def register(app: typer.Typer, *, users: UsersSource | None = None) -> None:
    """Add ``seatbot accounts``, ``quote`` and ``ledger``. ``seatbot quote`` checks a decrease
    against the users ``users`` lists (default: the platforms configured in the database)."""
    add_command(app, "accounts", accounts)
    add_command(app, "quote", _make_quote_command(users or _users_from_the_database))
    add_command(app, "ledger", ledger)
