"""``seatbot demo``: the whole product offline, as a readable Slack transcript.

In one process, on loopback ports chosen by the OS: an embedded SQLite database in a temporary
folder loaded from the example accounts file (``examples/accounts.yml``, shipped inside the
package as ``bot/data/`` so that an installed wheel runs the demo from any folder; its sandbox
URLs rewritten to the sandbox started here), the sandbox platform server, the local stand-in for
the Slack Web API, the real app (``bot.runtime.wiring``) on uvicorn, and a verifying webhook
receiver standing in for the operator's billing system (the accounts file's ``billing_webhook``
URL rewritten to it). A scripted owner then talks to the app with requests signed exactly as Slack
signs them, and every reply is rendered as text; then the events the billing system received
(signatures verified) are shown. It ends with a reconciliation report and the daily digest,
posted by the real report jobs, and saves the digest's trend chart beside the database
(:mod:`bot.offline.demo_reports`). Each step checks what came back; the exit status is 0 only when
every step did what it should.

This module starts everything, plays the steps in order, shows what the billing system received
and the ledger, and stops it all. Who and what the demo runs against (its people, data and
accounts) is :mod:`bot.offline.demo_setup`; the scripted owner and manager,
:mod:`bot.offline.demo_script`.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.text import Text

from billing.books import SeatService
from billing.formatting import format_money
from billing.money import Money
from bot.cli.billing import ledger_table
from bot.offline import demo_reports
from bot.offline.demo_script import (
    REPLY_WITHIN_S,
    DemoSession,
    Reply,
    Transcript,
    play_script,
)
from bot.offline.demo_setup import (
    ACCOUNT,
    MANAGER,
    SIGNING_SECRET,
    TEAM,
    DemoStepFailed,
    demo_webhook_secret,
    load_demo_accounts,
    local_settings,
    prepare_demo_accounts,
    serve_sandbox,
    serve_standin,
)
from bot.offline.standin import SlackDriver, SlackStandIn
from bot.offline.standin.slack_api import RunningServer, serve_asgi
from bot.runtime.db import make_engine, make_session_factory
from bot.runtime.wiring import build_runtime
from bot.setup.loader import load_file
from bot.webhooks.receiver import ReceivedEvent, WebhookReceiver
from handlers import ids

#: The order of a request's events (by their type).
_STEP = {"seat_change.requested": 0, "seat_change.approved": 1, "seat_change.applied": 2}

#: The events the script's changes produce: the decrease is requested, approved and applied;
#: the increase (within policy) is applied.
EXPECTED_EVENTS = 4


async def _billing_system(
    receiver: WebhookReceiver, service: SeatService, account_id: int, out: Transcript
) -> None:
    """Wait for the script's events at the billing system and show them; each one's lines must
    be the ledger's."""
    out.heading("9. The billing system receives the changes (signed webhooks, verified)")
    try:
        events = await receiver.wait_for(EXPECTED_EVENTS, within_s=REPLY_WITHIN_S)
    except TimeoutError:
        raise DemoStepFailed(
            f"the billing system received {len(receiver.events)} of {EXPECTED_EVENTS} events"
        ) from None
    # Delivered concurrently, they may arrive in any order: shown in the order they happened.
    events = sorted(events, key=lambda e: (e.data.get("request_id") or 0, _step_of(e)))
    ledger = {line.idempotency_key: line for line in service.ledger(account_id)}
    applied_net = {
        event.data.get("request_id"): event.data.get("net")
        for event in events
        if event.event_type == "seat_change.applied"
    }
    for event in events:
        if event.event_type == "seat_change.applied":
            for line in event.data.get("lines", []):
                written = ledger.get(str(line.get("ledger_key")))
                if written is None or written.amount.to_decimal_string() != line.get("amount"):
                    raise DemoStepFailed(f"event {event.webhook_id} differs from the ledger")
        elif applied_net.get(event.data.get("request_id")) != event.data.get("net"):
            # What was requested and approved is what was billed.
            raise DemoStepFailed(f"event {event.webhook_id} differs from what was applied")
        out.bot(_event_lines(event), title="Billing system · signature verified")
    if receiver.rejected:
        raise DemoStepFailed(f"the billing system refused {len(receiver.rejected)} request(s)")


def _step_of(event: ReceivedEvent) -> int:
    return _STEP.get(event.event_type, len(_STEP))


def _event_lines(event: ReceivedEvent) -> list[str]:
    data = event.data
    lines = [
        f"{event.event_type} · webhook-id {event.webhook_id}",
        f"{data.get('account')} · {data.get('product')} · {data.get('from_seats')} → "
        f"{data.get('to_seats')} seats · request {data.get('request_id')}",
    ]
    for line in data.get("lines", []):
        amount = format_money(Money.parse(line["amount"], line["currency"]))
        lines.append(f"  {line['kind']:<7} {line['quantity']:>3} seats {amount:>12}")
    if "net" in data:
        lines.append(
            f"  {'net':<17} {format_money(Money.parse(data['net'], data['currency'])):>12}"
        )
    return lines


async def _reports(
    session: DemoSession, runtime: Any, standin: SlackStandIn, folder: Path, now: datetime
) -> None:
    """The reconciliation report and the daily digest (with its chart), as the scheduler
    posts them; then right-sizing from the digest."""
    out = session.out
    jobs = runtime.reports.jobs
    account = SeatService(runtime_sessions(runtime)).account_by_name(ACCOUNT)
    if account is None:
        raise DemoStepFailed(f"the demo has no account {ACCOUNT!r}")
    out.heading("10. Reconciliation: seats billed vs users on each platform")
    before = _last_seq(standin)
    out.note(await demo_reports.reconciliation_step(jobs, account))
    for where, lines in demo_reports.posted_lines(standin, before, out.width):
        out.bot(lines, title=f"Seatbot · {where}")
    out.heading("11. The daily digest, with the 30-day trend chart in its thread")
    days = await demo_reports.record_history(jobs, ACCOUNT, now)
    out.note(
        f"first, {days} earlier daily runs are recorded as the scheduler would have made "
        "them (a few users who have since left tell them apart)"
    )
    before = _last_seq(standin)
    posted, again, chart = await demo_reports.digest_step(jobs, account, standin, folder, now)
    for where, lines in demo_reports.posted_lines(standin, before, out.width):
        out.bot(lines, title=f"Seatbot · {where}")
    out.note(posted)
    out.note(f"posting it again: {again}")
    out.note(f"the trend chart uploaded into the thread is saved as {chart}")

    out.heading("12. Right-size from the digest: its button, the credit, Confirm, the saving")
    [digest] = [
        Reply(call)
        for call in standin.calls("chat.postMessage")
        if call.seq > before and call.ok and not call.args.get("thread_ts")
    ]
    [action] = [a for a in _actions(digest) if a.startswith(ids.RIGHTSIZE_ACTION)]
    prompt = await session.right_size(digest, action, expect=" back as credit on your next invoice")
    before = _last_seq(standin)
    await session.click(prompt, ids.CONFIRM_ACTION, expect="Waiting for approval by @U0ACMEMGR")
    ask = await session.posted_to(
        MANAGER, before, expect="Approving applies", title="Seatbot · DM to the manager"
    )
    await session.click_as(MANAGER, ask, ids.APPROVE_ACTION, expect="Done.")
    before = _last_seq(standin)
    saved = await demo_reports.digest_again(jobs, account, standin, now)
    out.note("the digest, updated (--force): what the suggested removal saved")
    out.bot(saved.text.splitlines()[:4], title="Seatbot · #" + str(account.channel_id))
    if "from 1 suggested removal" not in saved.text:
        raise DemoStepFailed("the digest did not say what the suggested removal saved")


def _actions(reply: Reply) -> list[str]:
    return [
        str(element.get("action_id"))
        for block in reply.args.get("blocks") or []
        if block.get("type") == "actions"
        for element in block["elements"]
    ]


def _last_seq(standin: SlackStandIn) -> int:
    calls = standin.calls()
    return calls[-1].seq if calls else 0


def runtime_sessions(runtime: Any) -> Any:
    """Sessions on the running app's database."""
    return make_session_factory(runtime.engine)


async def run_demo(
    console: Console, *, now: datetime | None = None, keep_in: Path | None = None
) -> int:
    """Play the scripted session; returns 0 when every step did what it should.

    ``keep_in`` is a folder that keeps the database and the digest's chart afterwards (the
    transcript names it); without it they are in a temporary folder removed at the end.
    Raises :class:`DemoStepFailed` (after printing the transcript so far) when a step did not:
    its message says which, in one sentence.
    """
    out = Transcript(console)
    try:
        return await _run_demo(console, out, now, keep_in)
    except DemoStepFailed as exc:
        out.failed(f"demo step failed: {exc.step}")
        raise
    except TimeoutError:
        out.failed(f"demo step failed: no reply within {REPLY_WITHIN_S:.0f} s")
        raise DemoStepFailed(f"the app gave no reply within {REPLY_WITHIN_S:.0f} s") from None


async def _run_demo(
    console: Console, out: Transcript, now: datetime | None, keep_in: Path | None
) -> int:
    with contextlib.ExitStack() as stack:
        if keep_in is None:
            folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="seatbot-demo-")))
        else:
            folder = keep_in
        sandbox_server = serve_sandbox()
        standin, standin_server = serve_standin()
        database_url = f"sqlite:///{folder / 'seatbot.db'}"

        def clock() -> datetime:
            return now if now is not None else datetime.now(UTC)

        servers: list[RunningServer] = [sandbox_server, standin_server]
        try:
            # The billing system: a verifying receiver with the secret the accounts file gives.
            config = load_file(prepare_demo_accounts(folder, sandbox_server.url))
            receiver = WebhookReceiver(demo_webhook_secret(config))
            receiver_server = serve_asgi(receiver.asgi_app)
            servers.append(receiver_server)
            account_id, tz = load_demo_accounts(
                folder, sandbox_server.url, database_url, clock(), webhook_url=receiver_server.url
            )
            settings = local_settings(
                database_url,
                standin_server.url,
                SIGNING_SECRET,
                # Only the demo's own receiver: never a default webhook from the environment.
                seatbot_webhook_url=None,
                seatbot_webhook_secret=None,
                # The demo plays the scheduler's jobs itself, step by step (steps 10 and 11).
                seatbot_scheduler=False,
            )
            runtime = build_runtime(settings, clock=clock)
            # Lifespan on: the billing webhook sender starts and stops with the app.
            app_server = serve_asgi(runtime.asgi_app, lifespan="on")
            servers.append(app_server)
            console.print(
                Text(
                    f"Seatbot demo · app {app_server.url} · Slack stand-in {standin_server.url}"
                    f" · sandbox platforms {sandbox_server.url} · billing system (webhook "
                    f"receiver) {receiver_server.url} · SQLite in {folder}",
                    style="dim",
                )
            )
            async with (
                httpx.AsyncClient(timeout=10.0) as http,
                SlackDriver(
                    app_server.url, SIGNING_SECRET, standin_url=standin_server.url, team_id=TEAM
                ) as driver,
            ):
                session = DemoSession(standin, driver, out)
                try:
                    await play_script(session, http, sandbox_server.url)
                    engine = make_engine(database_url)
                    try:
                        service = SeatService(make_session_factory(engine))
                        await _billing_system(receiver, service, account_id, out)
                        console.print(
                            ledger_table(
                                service.ledger(account_id),
                                tz,
                                f"Ledger · Acme Telecom Ltd (times in {tz.key})",
                            )
                        )
                    finally:
                        engine.dispose()
                    await _reports(session, runtime, standin, folder, clock())
                finally:
                    if runtime.reports is not None:
                        await runtime.reports.aclose()
                    await runtime.platforms.aclose()
                    runtime.engine.dispose()
            if standin.violations:
                for violation in standin.violations:
                    out.failed(f"Slack would have refused a payload: {violation}")
                raise DemoStepFailed(
                    f"Slack would have refused {len(standin.violations)} payload(s)"
                )
            if keep_in is not None:
                console.print(
                    Text(f"The database and the chart are kept in {folder}", style="bold")
                )
            console.print(Text("✓ every step did what it should", style="bold green"))
            return 0
        finally:
            for server in reversed(servers):
                await server.stop()


def main(console: Console | None = None, *, keep_in: Path | None = None) -> int:
    """Run the demo in a fresh event loop; returns 0, or raises :class:`DemoStepFailed`.

    The database and the digest's chart are kept in ``keep_in`` (default: a new folder in the
    system's temporary folder, named in the transcript)."""
    folder = keep_in or Path(tempfile.mkdtemp(prefix="seatbot-demo-"))
    return asyncio.run(run_demo(console or Console(), keep_in=folder))
