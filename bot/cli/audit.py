"""``seatbot audit``: export the append-only audit trail."""

from __future__ import annotations

import csv
import io
import json
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich import box
from rich.table import Table

from billing.formatting import UTC_ZONE, format_instant, json_instant
from billing.money import Money
from bot.cli import shell
from bot.cli.commands import add_command
from bot.cli.errors import fail_bad_input, no_account_message
from bot.cli.instants import parse_instant
from bot.cli.output import AsJson, output_console

if TYPE_CHECKING:
    from billing.views import AuditView

#: The CSV columns, in order (``details`` holds the rest as JSON).
COLUMNS = (
    "id",
    "at",
    "account",
    "actor",
    "action",
    "request_id",
    "from",
    "to",
    "net",
    "currency",
    "idempotency_key",
    "details",
)


def _net(details: dict[str, object]) -> str | None:
    """The net of a step that carries one, as a decimal string in its currency."""
    minor, currency = details.get("net_minor"), details.get("currency")
    if not isinstance(minor, int) or not isinstance(currency, str):
        return None
    return Money(minor, currency).to_decimal_string()


def _row(event: AuditView) -> dict[str, Any]:
    details = event.details
    return {
        "id": event.id,
        "at": json_instant(event.at),
        "account": event.account,
        "actor": event.actor,
        "action": event.action,
        "request_id": details.get("request_id"),
        "from": details.get("from"),
        "to": details.get("to"),
        "net": _net(details),
        "currency": details.get("currency"),
        "idempotency_key": details.get("idempotency_key"),
        "details": details,
    }


def audit(
    account_name: Annotated[
        str | None, typer.Argument(metavar="ACCOUNT", help="Only this account.")
    ] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="Only events at or after this date (UTC).")
    ] = None,
    as_json: AsJson = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="Print CSV with a header row.")] = False,
) -> None:
    """Export the audit trail: who did what, when, from which state to which, with amounts.

    Every seat change's steps (created, re-quoted, submitted, approved, denied, applied,
    cancelled, expired), every refusal, renewal and change of the accounts file, in the order
    written. Instants are UTC; --csv puts the remaining details in a JSON column.
    """
    from billing.books import SeatService

    if as_json and as_csv:
        raise fail_bad_input("--json and --csv cannot be combined")
    start = parse_instant(since, UTC_ZONE, "--since") if since else None
    with shell.sessions() as sessions:
        service = SeatService(sessions)
        account_id = None
        if account_name is not None:
            account = service.account_by_name(account_name)
            if account is None:
                raise fail_bad_input(no_account_message(account_name))
            account_id = account.id
        events = service.audit_trail(account_id, since=start)
    rows = [_row(event) for event in events]
    if as_json:
        shell.echo_json({"events": rows})
        return
    if as_csv:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow(dict(row, details=json.dumps(row["details"], sort_keys=True)))
        typer.echo(buffer.getvalue(), nl=False)
        return
    table = Table(title="Audit trail (UTC)", title_justify="left", box=box.SIMPLE_HEAD)
    for column in ("at", "account", "actor", "action", "request", "from → to"):
        table.add_column(column)
    for event, row in zip(events, rows, strict=True):
        moved = f"{row['from']} → {row['to']}" if row["from"] else ""
        table.add_row(
            format_instant(event.at, UTC_ZONE, show_zone=False),
            row["account"],
            row["actor"],
            row["action"],
            "" if row["request_id"] is None else str(row["request_id"]),
            moved,
        )
    output_console().print(table)
    if not rows:
        typer.echo("no audit events")


def register(app: typer.Typer) -> None:
    """Add ``seatbot audit``."""
    add_command(app, "audit", audit)
