"""What ``seatbot reconcile`` and ``seatbot digest`` print: one JSON document, or a table.

The JSON documents are a contract (keys may be added): money is a decimal string in the
account's currency, instants UTC ISO 8601 with ``Z``; a product whose platform could not be read
has ``"status": "unknown"``, its ``reason``, and ``null`` for every user figure and cost
(unknown, never zero). The digest's words: ``users.idle`` counts the users not using their seat
(inactive, or no activity for 30+ days, each once); ``could_be_saved_seats`` = ``unused_seats`` +
``idle_seats`` (never more than ``seats``), the digest's one total, which the table shows as
"Could be saved". ``releasable_*`` (unused plus ``inactive_30_days``) is kept for the JSON's
readers as it was.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from rich.table import Table

from billing.formatting import format_money, json_instant
from billing.money import Money

if TYPE_CHECKING:
    from billing.jobs import PostOutcome
    from billing.reports import (
        AccountReconciliation,
        DigestFacts,
        ProductChange,
        ProductReconciliation,
    )

# -- JSON ---------------------------------------------------------------------------------------


def _amount(money: Money | None) -> str | None:
    return None if money is None else money.to_decimal_string()


def _change(change: ProductChange | None) -> dict[str, Any] | None:
    return None if change is None else {"seats": change.seats, "users": change.users}


def product_document(
    product: ProductReconciliation, change: ProductChange | None
) -> dict[str, Any]:
    """One product of a reconciliation as JSON-ready data (see the module docstring)."""
    users = product.users
    return {
        "product": product.product.value,
        "status": product.status.value,
        "reason": product.reason,
        "seats": product.seats,
        "unit_price": product.unit_price.to_decimal_string(),
        "interval": product.interval.value,
        "users": None
        if users is None
        else {
            "total": users.total,
            "active": users.active,
            "inactive": users.inactive,
            "inactive_30_days": users.idle,
            "idle": users.not_using,
        },
        "unused_seats": product.unused_seats,
        "over_allocated": product.over_allocated,
        "releasable_seats": product.releasable_seats,
        "spend_per_period": product.spend.to_decimal_string(),
        "unused_cost_per_period": _amount(product.unused_cost),
        "inactive_cost_per_period": _amount(product.inactive_cost),
        "inactive_30_days_cost_per_period": _amount(product.idle_cost),
        "releasable_cost_per_period": _amount(product.releasable_cost),
        "idle_seats": product.idle_seats,
        "could_be_saved_seats": product.saving_seats,
        "idle_seats_cost_per_period": _amount(product.idle_seats_cost),
        "could_be_saved_per_period": _amount(product.saving_cost),
        "change_since_previous_run": _change(change),
    }


def reconciliation_document(run: AccountReconciliation) -> dict[str, Any]:
    """One account's run as JSON-ready data."""
    return {
        "account": run.account.name,
        "currency": run.account.currency,
        "run_id": run.run_id,
        "reconciled_at": json_instant(run.at),
        "previous_run_at": None if run.previous_at is None else json_instant(run.previous_at),
        "products": [product_document(p, run.changes.get(p.product)) for p in run.products],
    }


def digest_document(facts: DigestFacts) -> dict[str, Any]:
    """One account's digest as JSON-ready data: the run's findings and everything else the
    digest says."""
    document = reconciliation_document(facts.run)
    week_ago = {} if facts.week_ago is None else {p.product: p for p in facts.week_ago.products}
    for entry, product in zip(document["products"], facts.run.products, strict=True):
        before = week_ago.get(product.product)
        entry["week_ago"] = (
            None
            if before is None
            else {
                "seats": before.seats,
                "users": None if before.users is None else before.users.total,
            }
        )
    document.update(
        {
            "date": facts.run.local_date.isoformat(),
            "timezone": facts.account.timezone,
            "since": json_instant(facts.since),
            "proration_since_last_digest": {
                "charges": facts.charges().to_decimal_string(),
                "credits": facts.credits().to_decimal_string(),
            },
            "changes_applied": [
                {
                    "product": c.product.value,
                    "from": c.old_seats,
                    "to": c.new_seats,
                    "net": c.net.to_decimal_string(),
                    "applied_at": None if c.applied_at is None else json_instant(c.applied_at),
                }
                for c in facts.applied
            ],
            "requests_pending": [
                {
                    "product": r.product.value,
                    "from": r.old_seats,
                    "to": r.new_seats,
                    "status": r.status.value,
                }
                for r in facts.pending
            ],
            "trend_days": facts.trend_days,
            "chart": facts.has_chart,
        }
    )
    return document


def report_document(
    generated_at: datetime, accounts: list[dict[str, Any]], posted: Sequence[PostOutcome] | None
) -> dict[str, Any]:
    """The one JSON document of a command: its accounts' documents, each with what its post
    did when the command posted (``posted``)."""
    if posted is not None:
        posts = {outcome.account: outcome for outcome in posted}
        for entry in accounts:
            found = posts.get(entry["account"])
            entry["post"] = None if found is None else _post_document(found)
    return {"generated_at": json_instant(generated_at), "accounts": accounts}


def _post_document(outcome: PostOutcome) -> dict[str, Any]:
    return {
        "status": outcome.status,
        "detail": outcome.detail,
        "late": outcome.late,
        "message_ts": outcome.message_ts,
    }


# -- tables -------------------------------------------------------------------------------------


def _money_cell(amount: Money | None) -> str:
    return "unknown" if amount is None else format_money(amount)


def reconciliation_table(runs: Sequence[AccountReconciliation]) -> Table:
    """Every account's products as one table; an unknown product says why."""
    table = Table(
        title="Reconciliation: seats billed vs users on each platform", title_justify="left"
    )
    for column in (
        "Account",
        "Product",
        "Seats",
        "Users",
        "Active",
        "Inactive",
        "Idle 30d+",
        "Unused",
        "Over",
        "Unused cost",
        "Inactive cost",
        "Could be saved",
    ):
        numeric = column not in ("Account", "Product")
        table.add_column(column, justify="right" if numeric else "left")
    for run in runs:
        for product in run.products:
            users = product.users
            if users is None:
                # Why it is unknown is printed under the table (and on stderr).
                table.add_row(
                    run.account.name,
                    product.product.label,
                    str(product.seats),
                    "[bold red]unknown[/]",
                    *(["—"] * 8),
                )
                continue
            saving = f"{product.saving_seats} ({_money_cell(product.saving_cost)})"
            table.add_row(
                run.account.name,
                product.product.label,
                str(product.seats),
                str(users.total),
                str(users.active),
                str(users.inactive),
                str(users.idle),
                str(product.unused_seats),
                str(product.over_allocated),
                _money_cell(product.unused_cost),
                _money_cell(product.inactive_cost),
                saving,
            )
    return table
