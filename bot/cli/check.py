"""``seatbot check``: verify the invariants money depends on (billing.books.rules)."""

from __future__ import annotations

import typer

from bot.cli import shell
from bot.cli.commands import add_command
from bot.cli.errors import EXIT_FAILURE
from bot.cli.output import AsJson


def check(
    as_json: AsJson = False,
) -> None:
    """Verify the invariants money depends on; exit 1 naming each violation.

    Each subscription's seats equal its start plus its applied changes; each applied change has
    exactly the ledger lines of the quote it stored; nothing was applied or renewed twice; every
    request's audit trail is well-formed; every applied change and renewal has its billing event
    in the outbox, with its ledger lines. Exits 0 when everything holds.
    """
    from billing.books import SeatService

    with shell.sessions() as sessions:
        report = SeatService(sessions).check_invariants()
    if as_json:
        shell.echo_json(
            {
                "clean": report.clean,
                "checked": {
                    "subscriptions": report.subscriptions,
                    "requests": report.requests,
                    "ledger_lines": report.ledger_lines,
                    "outbox_events": report.outbox_events,
                },
                "violations": [
                    {"rule": v.rule, "subject": v.subject, "detail": v.detail}
                    for v in report.violations
                ],
            }
        )
    else:
        for violation in report.violations:
            typer.echo(str(violation))
        checked = (
            f"{report.subscriptions} subscription(s), {report.requests} request(s), "
            f"{report.ledger_lines} ledger line(s), {report.outbox_events} outbox event(s)"
        )
        if report.clean:
            typer.echo(f"all invariants hold ({checked} checked)")
        else:
            typer.echo(f"{len(report.violations)} violation(s) in {checked}")
    if not report.clean:
        raise typer.Exit(EXIT_FAILURE)


def register(app: typer.Typer) -> None:
    """Add ``seatbot check``."""
    add_command(app, "check", check)
