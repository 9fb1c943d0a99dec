"""``seatbot webhooks …``: the billing hand-off (signed Standard Webhooks from the outbox).

``list`` and ``retry`` read and change the outbox (``seatbot serve`` does the sending);
``test`` sends a signed ``ping`` to an account's webhook now; ``listen`` runs the tiny
verifying receiver; ``new-secret`` makes a secret. No command prints a webhook secret.
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich import box
from rich.table import Table

from billing.formatting import UTC_ZONE, format_instant, json_instant, shown_url
from bot.cli import shell
from bot.cli.commands import add_command, new_group, until_stopped
from bot.cli.errors import fail, fail_bad_input, no_account_message
from bot.cli.output import AsJson, output_console

if TYPE_CHECKING:
    from billing.events import OutboxEntry

#: The port of ``seatbot webhooks listen`` unless told (the one examples/accounts.yml names).
DEFAULT_LISTEN_PORT = 8766


def _entry_document(entry: OutboxEntry) -> dict[str, Any]:
    try:
        event: Any = json.loads(entry.body)
    except ValueError:
        event = None
    return {
        "id": entry.id,
        "webhook_id": entry.webhook_id,
        "type": entry.event_type,
        "account": entry.account,
        "request_id": entry.request_id,
        "status": entry.status.value,
        "attempts": entry.attempts,
        "occurred_at": json_instant(entry.occurred_at),
        "next_attempt_at": json_instant(entry.next_attempt_at),
        "claimed_until": json_instant(entry.claimed_until) if entry.claimed_until else None,
        "sent_at": json_instant(entry.sent_at) if entry.sent_at else None,
        "failed_at": json_instant(entry.failed_at) if entry.failed_at else None,
        "last_error": entry.last_error,
        "event": event,
    }


def _when(entry: OutboxEntry) -> str:
    """When it was sent, failed, or is next tried (UTC, to the minute)."""
    from billing.events import OutboxStatus

    instant = entry.sent_at or entry.failed_at
    if instant is None and entry.status is OutboxStatus.PENDING:
        instant = entry.next_attempt_at
    return "" if instant is None else format_instant(instant, UTC_ZONE, show_zone=False)


def list_events(
    failed: Annotated[
        bool, typer.Option("--failed", help="Only events that failed every attempt.")
    ] = False,
    as_json: AsJson = False,
    limit: Annotated[int, typer.Option(help="How many of the newest events.", min=1)] = 50,
) -> None:
    """List the newest billing events in the outbox and how their delivery went.

    Status: pending (to be sent, or waiting for its next attempt), sent, failed (every attempt
    of the retry schedule failed; `seatbot webhooks retry` queues it again) or skipped (written
    for a change made before the hand-off existed; never sent unless retried). "When" is when it
    was sent, failed, or is next tried, in UTC.
    """
    from billing.events import Outbox, OutboxStatus

    with shell.sessions() as sessions:
        entries = Outbox(sessions).entries(failed_only=failed, limit=limit)
    if as_json:
        shell.echo_json({"events": [_entry_document(entry) for entry in entries]})
        return
    if not entries:
        typer.echo("no failed events" if failed else "no events in the outbox yet")
        return
    table = Table(box=box.SIMPLE_HEAD, padding=(0, 1, 0, 0), pad_edge=False)
    for column in ("id", "type", "account", "request", "status", "tries", "when (UTC)"):
        table.add_column(
            column, justify="right" if column in ("id", "request", "tries") else "left"
        )
    for entry in entries:
        table.add_row(
            str(entry.id),
            entry.event_type,
            entry.account,
            "" if entry.request_id is None else str(entry.request_id),
            entry.status.value,
            str(entry.attempts),
            _when(entry),
        )
    console = output_console()
    console.print(table)
    # Below the table, so that an error reads whole at any terminal width.
    for entry in entries:
        if entry.last_error and entry.status is not OutboxStatus.SENT:
            console.print(f"event {entry.id}: last error: {entry.last_error}", highlight=False)


def retry(
    reference: Annotated[
        str | None,
        typer.Argument(metavar="ID", help="The event's id or webhook-id (seatbot webhooks list)."),
    ] = None,
    all_failed: Annotated[
        bool, typer.Option("--all-failed", help="Queue every failed event again.")
    ] = False,
) -> None:
    """Queue a failed (or skipped) event for delivery again, with a fresh retry schedule.

    The running `seatbot serve` sends it within a few seconds, with the same webhook-id, so a
    receiver that deduplicates on it is safe. An event already delivered is not sent again.
    """
    from billing.events import Outbox

    if (reference is None) == (not all_failed):
        raise fail_bad_input("give one event ID, or --all-failed (not both)")
    with shell.sessions() as sessions:
        outbox = Outbox(sessions)
        if all_failed:
            count = outbox.retry_all_failed(shell.utc_now())
            typer.echo(
                f"{count} failed event(s) queued again; the running `seatbot serve` sends them"
            )
            return
        entry = outbox.retry(str(reference), shell.utc_now())
    typer.echo(
        f"event {entry.id} ({entry.event_type}, {entry.webhook_id}) queued again; the running "
        "`seatbot serve` sends it within a few seconds"
    )


def test(
    account_name: Annotated[str, typer.Argument(metavar="ACCOUNT", help="Account name.")],
) -> None:
    """Send a signed `ping` event to ACCOUNT's billing webhook now, and say how it went.

    The webhook is the account's own (billing_webhook in the accounts file), else
    SEATBOT_WEBHOOK_URL. Exits 1 when the receiver does not answer 2xx.
    """
    from billing.books import SeatService
    from bot.runtime.secrets import cipher_for
    from bot.runtime.settings import load_settings
    from bot.webhooks.config import default_destination, destination_for
    from bot.webhooks.delivery import ping_body, ping_id, post_event, webhook_client
    from bot.webhooks.guard import DestinationGuard

    settings = load_settings().model_copy(update={"database_url": shell.database_url()})
    default = default_destination(settings)
    with shell.sessions() as sessions:
        account = SeatService(sessions).account_by_name(account_name)
        if account is None:
            raise fail_bad_input(no_account_message(account_name))
        with sessions() as session:
            destination = destination_for(session, cipher_for(settings), account.id, default)
    if destination is None:
        raise fail_bad_input(
            f"{account.name} has no billing webhook: add billing_webhook to the accounts file "
            "(`seatbot load`) or set SEATBOT_WEBHOOK_URL and SEATBOT_WEBHOOK_SECRET"
        )
    timeout_s = settings.seatbot_webhook_timeout_seconds
    guard = DestinationGuard(allow_private=settings.seatbot_webhook_allow_private)

    async def send() -> Any:
        async with webhook_client() as client:
            now = shell.utc_now()
            return await post_event(
                client,
                destination,
                ping_id(),
                ping_body(account.name, now),
                at=now,
                timeout_s=timeout_s,
                guard=guard,
            )

    result = asyncio.run(send())
    where = shown_url(destination.url) + (" (the default webhook)" if destination.default else "")
    if not result.delivered:
        raise fail(f"the ping to {where} failed: {result.error}")
    typer.echo(f"ping delivered to {where}: HTTP {result.status_code} in {result.elapsed_s:.2f} s")


def listen(
    port: Annotated[
        int, typer.Option(help="Port to listen on; 0 picks a free one (printed at start).")
    ] = DEFAULT_LISTEN_PORT,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    secret: Annotated[
        str | None,
        typer.Option(
            help="The webhook secret (whsec_…); default: SEATBOT_WEBHOOK_SECRET.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Run a tiny receiver that verifies each event's signature and prints it.

    For trying the hand-off locally: point a webhook at http://HOST:PORT/ with the same secret.
    Verified events are answered 204 and printed (a repeated webhook-id is marked as such);
    anything that does not verify is answered 400 and reported. Stop it with Ctrl-C.
    """
    from bot.runtime.settings import load_settings
    from bot.web.server import bind_port, serve_until_stopped
    from bot.webhooks.config import NOT_WHSEC_MESSAGE, is_webhook_secret
    from bot.webhooks.receiver import ReceivedEvent, WebhookReceiver, pretty, summary

    if not 0 <= port < 65536:
        raise fail_bad_input(f"--port: {port} is not a port number (0–65535)")
    if secret is None:
        configured = load_settings().seatbot_webhook_secret
        secret = None if configured is None else configured.get_secret_value()
    if secret is None:
        raise fail_bad_input("--secret is required (or set SEATBOT_WEBHOOK_SECRET)")
    if not is_webhook_secret(secret.strip()):
        raise fail_bad_input(f"--secret {NOT_WHSEC_MESSAGE}")

    def show(event: ReceivedEvent) -> None:
        typer.echo(f"verified: {summary(event)}")
        typer.echo(pretty(event))

    def refused(reason: str) -> None:
        typer.echo(f"rejected: {reason}")

    receiver = WebhookReceiver(secret.strip(), on_event=show, on_rejected=refused)
    sock = bind_port(host, port)
    port = sock.getsockname()[1]  # the one the system chose for --port 0
    with until_stopped("The webhook receiver"):
        serve_until_stopped(
            receiver.asgi_app,
            sock,
            lifespan="off",
            announce=lambda: typer.echo(
                f"listening on http://{host}:{port}/ for signed events (Ctrl-C stops)"
            ),
        )


def new_secret() -> None:
    """Print a new random webhook secret (whsec_…), for the accounts file or
    SEATBOT_WEBHOOK_SECRET; give the same one to the billing system."""
    from bot.webhooks.config import new_webhook_secret

    typer.echo(new_webhook_secret())


def register(app: typer.Typer) -> None:
    """Add the ``seatbot webhooks`` group."""
    group = new_group(
        "The billing hand-off: signed webhooks that `seatbot serve` delivers.\n\n"
        "Every applied change and renewal, and each approval step, is written to the outbox "
        "with the ledger and sent to the billing system as a Standard Webhooks event."
    )
    add_command(group, "list", list_events)
    add_command(group, "retry", retry)
    add_command(group, "test", test)
    add_command(group, "listen", listen)
    add_command(group, "new-secret", new_secret)
    app.add_typer(group, name="webhooks")
