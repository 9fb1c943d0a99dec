"""``seatbot users ...``: the users that exist on the platforms, and user import files.

``register(app)`` adds the commands. ``seatbot users ACCOUNT PRODUCT`` needs the database, which
this module does not touch: the composition root passes ``lookup`` (account name, product →
platform and billed seats) and this module does the rest, or calls :func:`build_users_report`
and :func:`print_users_report` itself.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from billing.formatting import format_day, json_instant
from billing.products import parse_product
from billing.seats import in_deletion_order
from bot.cli.commands import SeatbotGroup, add_command, new_group
from bot.cli.errors import EXIT_BAD_INPUT, fail, fail_bad_input, say
from bot.cli.output import AsJson, output_console

if TYPE_CHECKING:
    from platforms.importfile import ValidationReport
    from platforms.types import Platform, PlatformUser

#: How long ``seatbot users`` waits for a platform before saying it did not answer.
USERS_DEADLINE_S = 10.0

#: ``lookup(account, product)`` → (the account's platform or ``None`` if not connected, billed
#: seats). Raises :class:`billing.errors.InvalidInput` for an unknown account or product.
UsersLookup = Callable[[str, str], "tuple[Platform | None, int]"]


def register(app: typer.Typer, *, lookup: UsersLookup | None = None) -> None:
    """Add ``seatbot users validate`` and ``seatbot users ACCOUNT PRODUCT`` to the CLI;
    ``lookup`` finds an account's platform (default: the database)."""
    users = new_group(
        "Users that exist on the platforms (they hold seats); check a user import file.",
        cls=_UsersGroup,
    )
    add_command(users, "validate", validate_command)
    add_command(users, "show", _show_command(lookup or _users_lookup_from_the_database))
    app.add_typer(users, name="users")


def _users_lookup_from_the_database(account: str, product: str) -> tuple[Platform | None, int]:
    # Imported when used: the wiring reaches the database and the platform clients.
    from bot.cli.wiring import users_lookup

    return users_lookup(account, product)


class _UsersGroup(SeatbotGroup):
    """``seatbot users ACCOUNT PRODUCT`` (what the platform says exists; the decrease guard's
    view) reads as ``seatbot users show ACCOUNT PRODUCT``, while ``seatbot users validate FILE``
    stays a subcommand."""

    # ctx is typed Any: typer vendors click, and its Context class is private to typer.
    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        is_positional = bool(args) and not args[0].startswith("-")
        if is_positional and args[0] not in self.commands and "show" in self.commands:
            args = ["show", *args]
        return super().parse_args(ctx, args)


# --- seatbot users validate --------------------------------------------------------------------


def validate_command(
    file: Annotated[Path, typer.Argument(help="A user import file, .csv or .xlsx.")],
    as_json: AsJson = False,
    encoding: Annotated[
        str | None,
        typer.Option(
            "--encoding",
            metavar="ENCODING",
            help="The CSV file's encoding (shift_jis, cp1252, utf-8…) when its bytes cannot tell.",
        ),
    ] = None,
) -> None:
    """Check a user import file and list every bad row (exit 2 when any row is bad).

    CSV files may be UTF-8 (with or without BOM), UTF-16, Windows-1252 or a multi-byte code
    page such as Shift-JIS, as Excel saves them; the output says which encoding was read. A file
    whose encoding cannot be told for sure is refused (exit 2) until --encoding names it.
    """
    from platforms.importfile import COLUMNS, validate_user_file
    from platforms.user_file_text import check_encoding

    report = validate_user_file(file, check_encoding(encoding) if encoding else None)
    if not report.ok and report.rows_checked == 0 and report.bad_rows == [1]:
        empty = [p for p in report.problems if p.column == "header" and "empty" in p.reason]
        if empty:
            raise fail_bad_input(
                f"{file}: the file is empty; it needs the header row "
                f"({', '.join(COLUMNS[:3])}, …) and one row per user"
            )
    read_as = f" (read as {report.encoding})" if report.encoding else ""
    if as_json:
        typer.echo(json.dumps(validation_document(report), indent=2))
    elif report.ok and report.rows_checked == 0:
        typer.echo(f"no users: the file has only its header row{read_as}")
    elif report.ok:
        rows = "row" if report.rows_checked == 1 else "rows"
        typer.echo(f"{report.rows_checked} {rows} OK{read_as}")
    else:
        output_console().print(validation_table(report))
        if read_as:
            typer.echo(f"read as {report.encoding}")
    if not report.ok:
        say(f"{file}: {validation_summary(report)}")
        raise typer.Exit(EXIT_BAD_INPUT)


def validation_summary(report: ValidationReport) -> str:
    """What is wrong with the file, in one line: the header, or how many rows."""
    if report.rows_checked == 0:
        return "the header row (row 1) needs fixing"
    bad = len(report.bad_rows)
    rows = "row" if report.rows_checked == 1 else "rows"
    return f"{bad} of {report.rows_checked} {rows} {'needs' if bad == 1 else 'need'} fixing"


def validation_table(report: ValidationReport) -> Table:
    """Every problem as a table: row (as the spreadsheet numbers it), column, reason."""
    table = Table(title=validation_summary(report), title_justify="left")
    table.add_column("Row", justify="right")
    table.add_column("Column")
    table.add_column("Problem")
    for problem in report.problems:
        table.add_row(str(problem.row), problem.column, problem.reason)
    return table


def validation_document(report: ValidationReport) -> dict[str, Any]:
    """The validation report as JSON-ready data."""
    return {
        "rows_checked": report.rows_checked,
        "encoding": report.encoding,
        "ok": report.ok,
        "problems": [
            {"row": p.row, "column": p.column, "reason": p.reason} for p in report.problems
        ],
    }


# --- seatbot users ACCOUNT PRODUCT -------------------------------------------------------------


@dataclass(frozen=True)
class UsersReport:
    """What a platform says exists for one subscription, and the decrease guard's view of it.

    ``users`` are in the order the guard offers them for deletion (inactive first), or ``None``
    when the platform could not be read, with ``reason`` saying why.
    """

    label: str
    current_seats: int
    users: list[PlatformUser] | None
    reason: str | None = None

    @property
    def user_count(self) -> int | None:
        """Users (= seats held) on the platform, if known."""
        return None if self.users is None else len(self.users)

    @property
    def removable_seats(self) -> int:
        """How many seats can be removed now without deleting anyone (0 when unknown)."""
        return 0 if self.users is None else max(0, self.current_seats - len(self.users))


async def build_users_report(
    platform: Platform | None,
    current_seats: int,
    *,
    deadline_s: float = USERS_DEADLINE_S,
    label: str = "This product",
) -> UsersReport:
    """Read the platform (within ``deadline_s`` seconds) and order its users as the guard does.

    ``label`` names the product when ``platform`` is ``None`` (no connection configured).
    """
    from platforms.guard import read_listing

    if platform is None:
        return UsersReport(
            label,
            current_seats,
            None,
            f"{label} has no platform connection; Seatbot cannot tell which users exist.",
        )
    listing = await read_listing(platform, platform.product, deadline_s)
    users = listing.users
    ordered = None if users is None else in_deletion_order(users)
    return UsersReport(platform.label, current_seats, ordered, listing.problem)


def users_report_document(report: UsersReport) -> dict[str, Any]:
    """The report as JSON-ready data (timestamps ISO 8601 UTC)."""

    def instant(value: datetime | None) -> str | None:
        return None if value is None else json_instant(value)

    return {
        "product": report.label,
        "current_seats": report.current_seats,
        "user_count": report.user_count,
        "removable_seats": report.removable_seats,
        "error": report.reason,
        "users": None
        if report.users is None
        else [
            {
                "platform_id": user.platform_id,
                "email": user.email,
                "name": user.name,
                "extension": user.extension,
                "level": user.level.value,
                "status": user.status.value,
                "created_at": instant(user.created_at),
                "last_active_at": instant(user.last_active_at),
            }
            for user in report.users
        ],
    }


def users_report_table(report: UsersReport) -> Table:
    """The users, likeliest deletion candidates first, under a one-line summary title."""
    count = report.user_count or 0
    title = (
        f"{report.label}: {count} users on {report.current_seats} billed seats; "
        f"{report.removable_seats} seat(s) can be removed now"
    )
    table = Table(title=title, title_justify="left")
    for column in ("#", "Extension", "Name", "Email", "Level", "Status", "Last active"):
        table.add_column(column, justify="right" if column in ("#", "Extension") else "left")
    for position, user in enumerate(report.users or [], start=1):
        last_active = (
            format_day(user.last_active_at.astimezone(UTC).date())
            if user.last_active_at
            else "never"
        )
        table.add_row(
            str(position),
            str(user.extension),
            user.name,
            user.email,
            user.level.value,
            user.status.value,
            last_active,
        )
    return table


def print_users_report(
    report: UsersReport, *, as_json: bool, console: Console | None = None
) -> None:
    """Print the report (table or one JSON document). When the platform could not be read,
    print why in one line on stderr and exit with status 1 (JSON still goes to stdout)."""
    if as_json:
        typer.echo(json.dumps(users_report_document(report), indent=2))
    elif report.users is not None:
        (console or output_console()).print(users_report_table(report))
    if report.reason is not None:
        raise fail(report.reason)


def _show_command(lookup: UsersLookup) -> Callable[..., None]:
    def show(
        account: Annotated[str, typer.Argument(help="The account's name.")],
        product: Annotated[str, typer.Argument(help="contact-center (cc), axiom or matrix.")],
        as_json: AsJson = False,
    ) -> None:
        """The users that exist on the platform, likeliest deletion candidates first.

        This is the decrease guard's view: seats held by these users cannot be removed. Also
        reachable as `seatbot users ACCOUNT PRODUCT`.
        """
        platform, current_seats = lookup(account, product)

        async def run() -> UsersReport:
            try:
                known = parse_product(product)
                label = known.label if known is not None else product
                return await build_users_report(platform, current_seats, label=label)
            finally:
                if platform is not None:
                    await platform.aclose()

        print_users_report(asyncio.run(run()), as_json=as_json)

    return show
