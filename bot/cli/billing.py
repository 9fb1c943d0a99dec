"""Billing commands: ``seatbot db upgrade``, ``load``, ``accounts``, ``quote``, ``ledger``.

Every command reads ``DATABASE_URL`` through :func:`bot.settings.load_settings`. ``--json``
prints one JSON document (money as decimal strings plus ``"currency"``); errors go to stderr
with status 2 for bad input and 1 for failures. No command prints platform credentials or the
database URL.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from billing.errors import UserFacingError
from billing.models import PlatformConnection
from billing.money import Money
from billing.periods import zone
from billing.products import Product
from billing.service import AccountView, LedgerLineView, SeatService, SubscriptionView
from bot.cli.errors import fail, fail_bad_input
from bot.db import make_engine, make_session_factory, upgrade
from bot.instants import InstantError, parse_instant
from bot.loader import ConfigError, apply_config, load_file
from bot.proration_render import proration_document, proration_summary, proration_table
from bot.settings import load_settings


@dataclass(frozen=True)
class PlatformCheckResult:
    """What the platform says about a decrease: ``passed`` when few enough users exist for
    the new seat count; ``detail`` is a short owner-readable explanation (no credentials);
    ``status`` is ``passed``, ``blocked`` (users must be deleted first) or ``unknown`` (the
    platform could not be read, so the decrease is refused)."""

    passed: bool
    detail: str
    status: str = ""

    def __post_init__(self) -> None:
        if not self.status:
            object.__setattr__(self, "status", "passed" if self.passed else "blocked")


#: Checks a decrease against the platform: (account, subscription, new seat count) → result.
PlatformCheck = Callable[[AccountView, SubscriptionView, int], PlatformCheckResult]


def _database_url() -> str:
    return load_settings().database_url


@contextmanager
def _sessions() -> Iterator[sessionmaker[Session]]:
    engine = make_engine(_database_url())
    try:
        yield make_session_factory(engine)
    except SQLAlchemyError as exc:
        raise fail(
            f"database error ({exc.__class__.__name__}); has `seatbot db upgrade` been run?"
        ) from None
    finally:
        engine.dispose()


def _now() -> datetime:
    # The CLI is the imperative shell: the one place the clock is read.
    return datetime.now(UTC)


def _echo_json(document: Any) -> None:
    typer.echo(json.dumps(document, indent=2, ensure_ascii=False))


def db_upgrade() -> None:
    """Apply the database migrations (Alembic) up to the newest."""
    try:
        upgrade(_database_url())
    except SQLAlchemyError as exc:
        raise fail(f"migration failed ({exc.__class__.__name__})") from None
    typer.echo("database is up to date")


def load(
    file: Annotated[Path, typer.Argument(help="YAML file, e.g. examples/accounts.yml.")],
) -> None:
    """Create or update accounts, members, subscriptions and platform connections from YAML.

    Idempotent, all in one transaction; a bad file is reported with line and field and
    nothing is written. Migrates the database first.
    """
    try:
        config = load_file(file)
    except ConfigError as exc:
        for problem in exc.problems:
            typer.echo(f"seatbot: {file}: {problem}", err=True)
        raise typer.Exit(2) from None
    try:
        upgrade(_database_url())
    except SQLAlchemyError as exc:
        raise fail(f"migration failed ({exc.__class__.__name__})") from None
    with _sessions() as sessions:
        try:
            with sessions.begin() as session:
                report = apply_config(session, config, _now())
        except ConfigError as exc:
            for problem in exc.problems:
                typer.echo(f"seatbot: {file}: {problem}", err=True)
            raise typer.Exit(2) from None
    for change in report.changes:
        typer.echo(change)
    if not report.changed:
        typer.echo("nothing to change")


def accounts(
    as_json: bool = typer.Option(False, "--json", help="Print one JSON document."),
) -> None:
    """List accounts with their subscriptions and platform connections (never credentials)."""
    at = _now()
    with _sessions() as sessions:
        service = SeatService(sessions)
        documents: list[dict[str, Any]] = []
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
            documents.append(
                {
                    "name": account.name,
                    "display_name": account.display_name,
                    "currency": account.currency,
                    "timezone": account.timezone,
                    "team_id": account.team_id,
                    "channel_id": account.channel_id,
                    "subscriptions": [
                        _subscription_document(sub) for sub in service.subscriptions(account.id, at)
                    ],
                    "platforms": [
                        {"product": p, "kind": k, "base_url": url, "file_path": path}
                        for p, k, url, path in connections
                    ],
                }
            )
    if as_json:
        _echo_json({"accounts": documents})
        return
    table = Table()
    for column in ("account", "currency", "product", "seats", "unit price", "period", "platform"):
        table.add_column(column)
    for document in documents:
        platforms: dict[str, dict[str, Any]] = {p["product"]: p for p in document["platforms"]}
        subs: list[dict[str, Any] | None] = document["subscriptions"] or [None]
        for sub in subs:
            platform = platforms.get(sub["product"]) if sub else None
            where = (platform["base_url"] or platform["file_path"]) if platform else ""
            table.add_row(
                document["name"],
                document["currency"],
                sub["product"] if sub else "",
                str(sub["seats"]) if sub else "",
                sub["unit_price"] if sub else "",
                f"{sub['period_start'][:10]} → {sub['period_end'][:10]}" if sub else "",
                f"{platform['kind']}: {where}" if platform else "",
            )
    Console().print(table)


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
        "period_start": sub.period.start.isoformat(),
        "period_end": sub.period.end.isoformat(),
    }


def _make_quote_command(platform_check: PlatformCheck | None) -> Callable[..., None]:
    def quote(
        account_name: str = typer.Argument(..., metavar="ACCOUNT", help="Account name."),
        product_name: str = typer.Argument(
            ..., metavar="PRODUCT", help="contact_center|axiom|matrix."
        ),
        seats_text: str = typer.Argument(..., metavar="SEATS", help="The new seat count."),
        at_text: str | None = typer.Option(
            None,
            "--at",
            help="YYYY-MM-DD (midnight, account time zone) or ISO instant; default now.",
        ),
        as_json: bool = typer.Option(False, "--json", help="Print one JSON document."),
    ) -> None:
        """Preview the proration of changing a real subscription to SEATS seats, with the
        platform check for decreases. Nothing is stored."""
        try:
            product = Product(product_name.strip().lower().replace("-", "_"))
        except ValueError:
            allowed = "|".join(p.value for p in Product)
            raise fail_bad_input(f"PRODUCT: {product_name!r} is not one of {allowed}") from None
        try:
            seats = int(seats_text)
        except ValueError:
            raise fail_bad_input(f"SEATS: {seats_text!r} is not a whole number") from None
        with _sessions() as sessions:
            service = SeatService(sessions)
            account = service.account_by_name(account_name)
            if account is None:
                raise fail_bad_input(f"ACCOUNT: no account named {account_name!r}")
            tz = zone(account.timezone)
            try:
                at = parse_instant(at_text, tz) if at_text else _now()
            except InstantError as exc:
                raise fail_bad_input(f"--at: {exc}") from None
            subscription = next(
                (s for s in service.subscriptions(account.id, at) if s.product is product), None
            )
            if subscription is None:
                raise fail_bad_input(f"PRODUCT: {account.name} has no {product.value} subscription")
            try:
                result = service.quote(subscription.id, seats, at)
            except UserFacingError as exc:
                raise fail_bad_input(f"SEATS: {exc.message}") from None
        check = _platform_check_document(
            platform_check, account, result.subscription, seats, result.is_decrease
        )
        if as_json:
            document = proration_document(result.proration)
            document.update(
                account=account.name,
                product=product.value,
                is_decrease=result.is_decrease,
                platform_check=check,
            )
            _echo_json(document)
            return
        console = Console()
        console.print(f"{account.display_name} · {product.value}", highlight=False)
        console.print(proration_summary(result.proration, tz=tz), highlight=False)
        console.print(proration_table(result.proration))
        console.print(f"platform check: {check['status']} — {check['detail']}", highlight=False)

    return quote


def _platform_check_document(
    platform_check: PlatformCheck | None,
    account: AccountView,
    subscription: SubscriptionView,
    seats: int,
    is_decrease: bool,
) -> dict[str, str]:
    if not is_decrease:
        return {"status": "not_needed", "detail": "an increase needs no platform check"}
    if platform_check is None:
        return {"status": "not_run", "detail": "no platform check is configured"}
    outcome = platform_check(account, subscription, seats)
    return {"status": outcome.status, "detail": outcome.detail}


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
        "created_at": line.created_at.isoformat(),
        "product": line.product.value,
        "kind": line.kind.value,
        "quantity": line.quantity,
        "amount": line.amount.to_decimal_string(),
        "currency": line.amount.currency,
        "period_start": line.period_start.isoformat(),
        "period_end": line.period_end.isoformat(),
        "request_id": line.request_id,
        "idempotency_key": line.idempotency_key,
    }


def ledger(
    account_name: str = typer.Argument(..., metavar="ACCOUNT", help="Account name."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON document."),
    as_csv: bool = typer.Option(False, "--csv", help="Print CSV with a header row."),
) -> None:
    """Print an account's ledger: every credit, charge and renewal, in the order written."""
    if as_json and as_csv:
        raise fail_bad_input("--json and --csv cannot be combined")
    with _sessions() as sessions:
        service = SeatService(sessions)
        account = service.account_by_name(account_name)
        if account is None:
            raise fail_bad_input(f"ACCOUNT: no account named {account_name!r}")
        lines = service.ledger(account.id)
    rows = [_ledger_row(line) for line in lines]
    total_minor = sum(line.amount.minor for line in lines)
    if as_json:
        _echo_json(
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
    table = Table(title=f"{account.display_name} ledger ({account.currency})")
    for column in ("when", "product", "kind", "seats", "amount", "period"):
        table.add_column(column, justify="right" if column in ("seats", "amount") else "left")
    for line in lines:
        table.add_row(
            line.created_at.isoformat(timespec="seconds"),
            line.product.value,
            line.kind.value,
            str(line.quantity),
            line.amount.format(),
            f"{line.period_start.date()} → {line.period_end.date()}",
        )
    Console().print(table)


def register(app: typer.Typer, *, platform_check: PlatformCheck | None = None) -> None:
    """Add the billing commands to the ``seatbot`` CLI. ``platform_check`` is consulted by
    ``seatbot quote`` for decreases (the composition root plugs the platforms guard in)."""
    db_app = typer.Typer(help="The database.", no_args_is_help=True)
    db_app.command("upgrade")(db_upgrade)
    app.add_typer(db_app, name="db")
    app.command("load")(load)
    app.command("accounts")(accounts)
    app.command("quote")(_make_quote_command(platform_check))
    app.command("ledger")(ledger)
