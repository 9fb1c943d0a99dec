"""``seatbot demo``: the whole product offline, as a readable Slack transcript.

In one process, on loopback ports chosen by the OS: an embedded SQLite database in a temporary
folder loaded from the example accounts file (``examples/accounts.yml``, shipped inside the
package as ``bot/data/`` so that an installed wheel runs the demo from any folder; its sandbox
URLs rewritten to the sandbox started here), the sandbox platform server, the local stand-in for
the Slack Web API, the real app (``bot.server``) on uvicorn, and a verifying webhook receiver
standing in for the operator's billing system (the accounts file's ``billing_webhook`` URL
rewritten to it). A scripted owner then talks to the app with requests signed exactly as Slack
signs them, and every reply is rendered as text; then the events the billing system received
(signatures verified) are shown. It ends with a reconciliation report and the daily digest,
posted by the real report jobs, and saves the digest's trend chart beside the database
(:mod:`bot.demo_reports`). Each step checks what came back; the exit status is 0 only when
every step did what it should.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from pydantic import SecretStr
from rich import box
from rich.console import Console
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from billing.display import format_instant, format_period
from billing.periods import Period, zone
from billing.service import SeatService
from bot import demo_reports
from bot.db import make_engine, make_session_factory, upgrade
from bot.demo_render import render_message, render_view
from bot.loader import LoadedConfig, apply_config, load_file
from bot.secrets import TokenCipher
from bot.server import build_runtime
from bot.settings import Settings
from bot.standin import RecordedCall, SlackDriver, SlackStandIn
from bot.standin.slack_api import RunningServer, serve_asgi
from bot.standin.slack_driver import button, number_input_value, static_select_value
from bot.webhook_receiver import ReceivedEvent, WebhookReceiver
from handlers import ids
from platforms.sandbox import SandboxApp, SandboxConfig

#: The demo's data: copies of ``examples/`` that ship inside the package (a test keeps them equal).
DEMO_DATA_FILES = ("accounts.yml", "globex-matrix-users.csv")
EXAMPLE_SANDBOX_URL = "http://127.0.0.1:8765"
EXAMPLE_WEBHOOK_URL = "http://127.0.0.1:8766"  # `seatbot webhooks listen`'s default port
TEAM = "T0ACME001"
OWNER = "U0ACMEOWNER"
MANAGER = "U0ACMEMGR"
CHANNEL = "C0ACMESEATS"
ACCOUNT = "acme"
SIGNING_SECRET = "demo-signing-secret"  # noqa: S105 - a throwaway secret for a local demo
BOT_TOKEN = "xoxb-demo-local-only"  # noqa: S105 - only the local stand-in accepts it
# Users on the sandbox at the start: Contact Center holds 23 of its 25 seats, Axiom 11 of 12.
SANDBOX_USERS = {"contact_center": 23, "axiom": 11}
REPLY_WITHIN_S = 15.0


class DemoStepFailed(Exception):
    """A scripted step did not get the reply it should have (or the demo could not start);
    ``str()`` is one sentence for the operator."""


def demo_data() -> Traversable:
    """The folder of the demo's data inside the installed package."""
    return files("bot") / "data"


@dataclass
class Reply:
    """The app's answer to one step: the recorded Web API call (or response URL post)."""

    call: RecordedCall

    @property
    def args(self) -> dict[str, Any]:
        return self.call.args

    @property
    def text(self) -> str:
        return "\n".join(render_message(self.args))

    def button(self, action_id: str) -> dict[str, Any]:
        for block in self.args.get("blocks") or []:
            if block.get("type") == "actions":
                for element in block["elements"]:
                    if element.get("action_id") == action_id:
                        return dict(element, block_id=block.get("block_id"))
        raise DemoStepFailed(f"the reply offers no {action_id!r} button")


class Transcript:
    """Prints who said what, and the app's replies rendered as text."""

    def __init__(self, console: Console) -> None:
        self.console = console

    def heading(self, text: str) -> None:
        self.console.rule(Text(text, style="bold cyan"))

    def said(self, who: str, what: str) -> None:
        self.console.print(Text.assemble((f"{who} ", "bold green"), ("› ", "dim"), (what, "bold")))

    def note(self, text: str) -> None:
        self.console.print(Text(f"  ({text})", style="italic yellow"))

    @property
    def width(self) -> int:
        """Text width inside a reply's frame."""
        return max(40, self.console.width - 6)

    def bot(self, lines: Sequence[str], *, title: str = "Seatbot · only visible to you") -> None:
        self.console.print(
            Panel(Text("\n".join(lines)), title=title, title_align="left", border_style="blue")
        )

    def failed(self, text: str) -> None:
        self.console.print(Text(f"✗ {text}", style="bold red"))


class DemoSession:
    """The scripted owner: sends signed Slack requests and waits for the app's replies."""

    def __init__(self, standin: SlackStandIn, driver: SlackDriver, transcript: Transcript) -> None:
        self.standin = standin
        self.driver = driver
        self.out = transcript

    def _last_seq(self) -> int:
        calls = self.standin.calls()
        return calls[-1].seq if calls else 0

    async def _next(self, method: str, after: int) -> Reply:
        calls = await self.standin.wait_for(
            method, within_s=REPLY_WITHIN_S, where=lambda call: call.seq > after
        )
        return Reply(calls[0])

    async def command(self, text: str, *, expect: str) -> Reply:
        self.out.said(OWNER, f"/seats {text}".rstrip())
        before = self._last_seq()
        sent = await self.driver.slash_command(text, user_id=OWNER, channel_id=CHANNEL)
        if sent.status_code != 200:
            raise DemoStepFailed(f"/seats {text} was answered with HTTP {sent.status_code}")
        return self._check(await self._next("response_url", before), expect)

    async def click(self, reply: Reply, action_id: str, *, expect: str) -> Reply:
        element = reply.button(action_id)
        label = element["text"]["text"]
        self.out.said(OWNER, f"clicks [{label}]")
        before = self._last_seq()
        action = button(action_id, element["value"], block_id=element["block_id"], text=label)
        sent = await self.driver.block_action(action, user_id=OWNER, channel_id=CHANNEL)
        if sent.status_code != 200:
            raise DemoStepFailed(f"[{label}] was answered with HTTP {sent.status_code}")
        return self._check(await self._next("response_url", before), expect)

    async def modal(self, count: str, *, expect: str) -> Reply:
        """``/seats``, type ``count`` in the modal (live preview), submit it."""
        self.out.said(OWNER, "/seats")
        before = self._last_seq()
        await self.driver.slash_command("", user_id=OWNER, channel_id=CHANNEL)
        opened = await self._next("views.open", before)
        updated = await self._next("views.update", opened.call.seq)
        view = self.standin.view(opened.call.response["view"]["id"])
        self.out.bot(render_view(view, width=self.out.width), title="Seatbot · modal")
        self.out.said(OWNER, f"types {count} as the new number of seats")
        product = _initial_option(view, ids.PRODUCT_BLOCK)
        typed = {
            ids.PRODUCT_BLOCK: {
                ids.PRODUCT_ACTION: static_select_value(product["value"], product["text"]["text"])
            },
            ids.COUNT_BLOCK: {ids.COUNT_ACTION: number_input_value(count)},
        }
        action = {
            "type": "number_input",
            "action_id": ids.COUNT_ACTION,
            "block_id": ids.COUNT_BLOCK,
            "value": count,
            "action_ts": f"{datetime.now(UTC).timestamp():.6f}",
        }
        await self.driver.block_action(action, user_id=OWNER, view=view, state_values=typed)
        preview = await self._next("views.update", updated.call.seq)
        view = self.standin.view(view["id"])
        self.out.bot(
            render_view(dict(view, state={"values": typed}), width=self.out.width),
            title="Seatbot · modal",
        )
        if "Net now" not in "\n".join(render_view(view)):
            raise DemoStepFailed("the modal showed no live preview")
        self.out.said(OWNER, "clicks [Review change]")
        await self.driver.view_submission(view, user_id=OWNER, values=typed)
        return self._check(await self._next("chat.postEphemeral", preview.call.seq), expect)

    async def posted_to(self, channel: str, after: int, *, expect: str, title: str) -> Reply:
        """The message the app posted to ``channel`` (a DM when it is a user id) after seq
        ``after``, shown as its recipient sees it."""
        calls = await self.standin.wait_for(
            "chat.postMessage",
            within_s=REPLY_WITHIN_S,
            where=lambda call: call.seq > after and call.args.get("channel") == channel,
        )
        reply = Reply(calls[0])
        self.out.bot(render_message(reply.args, width=self.out.width), title=title)
        if expect not in reply.text:
            raise DemoStepFailed(f"expected the message to {channel} to say {expect!r}")
        return reply

    async def click_as(self, user: str, posted: Reply, action_id: str, *, expect: str) -> Reply:
        """``user`` clicks a button of a message the app posted (not an ephemeral reply)."""
        element = posted.button(action_id)
        label = element["text"]["text"]
        self.out.said(user, f"clicks [{label}]")
        before = self._last_seq()
        action = button(action_id, element["value"], block_id=element["block_id"], text=label)
        sent = await self.driver.block_action(
            action,
            user_id=user,
            channel_id=str(posted.call.response["channel"]),
            message=dict(posted.call.response["message"]),
        )
        if sent.status_code != 200:
            raise DemoStepFailed(f"[{label}] was answered with HTTP {sent.status_code}")
        return self._check(await self._next("response_url", before), expect)

    def _check(self, reply: Reply, expect: str) -> Reply:
        self.out.bot(render_message(reply.args, width=self.out.width))
        if expect not in reply.text:
            raise DemoStepFailed(f"expected the reply to say {expect!r}")
        return reply


def _initial_option(view: dict[str, Any], block_id: str) -> dict[str, Any]:
    """The option a select shows when the view opens (Slack sends it back in the state)."""
    for block in view.get("blocks") or []:
        if block.get("block_id") == block_id:
            option: dict[str, Any] = block["element"]["initial_option"]
            return option
    raise DemoStepFailed(f"the modal has no {block_id!r} block")


async def _delete_blocking_users(
    http: httpx.AsyncClient, sandbox_url: str, product: str, reply: Reply, out: Transcript
) -> int:
    """Delete, on the sandbox platform, the users the blocked reply names (as an admin would)."""
    base = f"{sandbox_url}/_sandbox/accounts/{ACCOUNT}/{product}/users"
    listing = await http.get(base)
    listing.raise_for_status()
    users: list[dict[str, Any]] = listing.json()["data"]
    named = [user for user in users if str(user["email"]) in reply.text]
    for user in named:
        out.said("Acme admin", f"deletes {user['email']} on the {product} platform (sandbox)")
        deleted = await http.delete(f"{base}/{user['id']}")
        deleted.raise_for_status()
    return len(named)


def prepare_demo_accounts(folder: Path, sandbox_url: str, webhook_url: str | None = None) -> Path:
    """Copy the example accounts file (and the files it names) into ``folder``, its platform
    URLs pointing at ``sandbox_url`` (and its webhook at ``webhook_url``, when given); returns
    the copy's path."""
    data = demo_data()
    for name in DEMO_DATA_FILES:
        source = data / name
        if not source.is_file():
            raise DemoStepFailed(f"the installed package lacks its demo file bot/data/{name}")
        (folder / name).write_bytes(source.read_bytes())
    target = folder / "accounts.yml"
    text = target.read_text(encoding="utf-8").replace(EXAMPLE_SANDBOX_URL, sandbox_url)
    if webhook_url is not None:
        text = text.replace(EXAMPLE_WEBHOOK_URL, webhook_url)
    target.write_text(text, encoding="utf-8")
    return target


async def _script(session: DemoSession, http: httpx.AsyncClient, sandbox_url: str) -> None:
    out = session.out
    out.heading("1. What do we pay for, and who uses it?")
    await session.command("status", expect="Contact Center: 25 seats")

    out.heading("2. Remove 5 Contact Center seats: 23 users still exist")
    blocked = await session.command("remove 5 cc", expect="must be deleted on Contact Center")

    out.heading("3. Delete the named users on Contact Center, then check again")
    if await _delete_blocking_users(http, sandbox_url, "contact_center", blocked, out) != 3:
        raise DemoStepFailed("the blocked reply should name exactly 3 users to delete")
    prompt = await session.click(blocked, ids.CHECK_AGAIN_ACTION, expect="25 → 20 seats")

    out.heading("4. Confirm the decrease: Acme's policy sends every decrease to a manager")
    before = session._last_seq()
    await session.click(prompt, ids.CONFIRM_ACTION, expect="Waiting for approval by @U0ACMEMGR")
    await session.click(prompt, ids.CONFIRM_ACTION, expect="waiting for a manager's approval")
    ask = await session.posted_to(
        MANAGER, before, expect="asks to change", title="Seatbot · DM to the manager"
    )

    out.heading("5. The manager approves; every approval message is stamped, the owner told")
    before = session._last_seq()
    await session.click_as(MANAGER, ask, ids.APPROVE_ACTION, expect="Done.")
    await session.posted_to(
        OWNER, before, expect="Approved by @U0ACMEMGR", title="Seatbot · DM to the owner"
    )
    await session.click_as(MANAGER, ask, ids.APPROVE_ACTION, expect="Already decided")

    out.heading("6. Add 2 Axiom seats from the form (within policy: no approval needed)")
    prompt = await session.modal("14", expect="12 → 14 seats")
    await session.click(prompt, ids.CONFIRM_ACTION, expect="Done.")

    out.heading("7. A typo")
    await session.command("ad 3 axim", expect="Did you mean /seats add 3 axiom?")

    out.heading("8. What changed")
    await session.command("history", expect="25 → 20")


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
        lines.append(
            f"  {line['kind']:<7} {line['quantity']:>3} seats {line['amount']:>10} "
            f"{line['currency']}"
        )
    lines.append(f"  {'net':<17} {data.get('net', ''):>10} {data.get('currency', '')}")
    return lines


def _ledger_table(service: SeatService, account_id: int, tz: ZoneInfo) -> Table:
    table = Table(
        title=f"Ledger · Acme Telecom Ltd (times in {tz.key})",
        title_style="bold",
        box=box.SIMPLE_HEAD,
        padding=(0, 1, 0, 0),
        pad_edge=False,
    )
    for column in ("written", "product", "kind", "seats", "amount", "period"):
        table.add_column(column, no_wrap=column in ("written", "amount", "period"))
    for line in service.ledger(account_id):
        table.add_row(
            format_instant(line.created_at, tz, show_zone=False),
            line.product.label,
            line.kind.value,
            str(line.quantity),
            f"{line.amount.to_decimal_string()} {line.amount.currency}",
            format_period(Period(line.period_start, line.period_end), tz, show_zone=False),
        )
    return table


async def _reports(
    out: Transcript, runtime: Any, standin: SlackStandIn, folder: Path, now: datetime
) -> None:
    """The reconciliation report and the daily digest (with its chart), as the scheduler
    posts them."""
    jobs = runtime.reports.jobs
    account = SeatService(runtime_sessions(runtime)).account_by_name(ACCOUNT)
    if account is None:
        raise DemoStepFailed(f"the demo has no account {ACCOUNT!r}")
    try:
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
    except demo_reports.ReportsDemoFailed as error:
        raise DemoStepFailed(str(error)) from None


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
        out.failed(f"demo step failed: {exc}")
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
        sandbox = SandboxApp(SandboxConfig())
        for product, users in SANDBOX_USERS.items():
            sandbox.set_account(ACCOUNT, product, users=users, seed=7)
        sandbox_server = serve_asgi(sandbox)
        standin = SlackStandIn()
        standin_server = serve_asgi(standin.asgi_app)
        standin.base_url = standin_server.url
        standin.add_workspace(TEAM, BOT_TOKEN, team_name="Acme Telecom")
        database_url = f"sqlite:///{folder / 'seatbot.db'}"

        def clock() -> datetime:
            return now if now is not None else datetime.now(UTC)

        servers: list[RunningServer] = [sandbox_server, standin_server]
        try:
            # The billing system: a verifying receiver with the secret the accounts file gives.
            config = load_file(prepare_demo_accounts(folder, sandbox_server.url))
            receiver = WebhookReceiver(_webhook_secret(config))
            receiver_server = serve_asgi(receiver.asgi_app)
            servers.append(receiver_server)
            account_id, tz = load_demo_accounts(
                folder, sandbox_server.url, database_url, clock(), webhook_url=receiver_server.url
            )
            settings = Settings(
                database_url=database_url,
                slack_bot_token=SecretStr(BOT_TOKEN),
                slack_signing_secret=SecretStr(SIGNING_SECRET),
                slack_api_url=f"{standin_server.url}/api/",
                seatbot_token_keys=SecretStr(LOCAL_TOKEN_KEY),
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
                    await _script(session, http, sandbox_server.url)
                    engine = make_engine(database_url)
                    try:
                        service = SeatService(make_session_factory(engine))
                        await _billing_system(receiver, service, account_id, out)
                        console.print(_ledger_table(service, account_id, tz))
                    finally:
                        engine.dispose()
                    await _reports(out, runtime, standin, folder, clock())
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


#: The key that seals the sandbox's (public) credentials in the demo's and ``seatbot dev``'s
#: local databases, so they need no key file beside them. Never used for a real database.
LOCAL_TOKEN_KEY = "c2VhdGJvdC1sb2NhbC1zYW5kYm94LW9ubHkta2V5ISE="  # noqa: S105 - local sandbox only


def local_cipher() -> TokenCipher:
    """The cipher of :data:`LOCAL_TOKEN_KEY`."""
    return TokenCipher([LOCAL_TOKEN_KEY], source="the local demo key")


def _webhook_secret(config: LoadedConfig) -> str:
    """The demo account's webhook secret, as the accounts file gives it."""
    secret = config.webhook_secrets.get(ACCOUNT)
    if secret is None:
        raise DemoStepFailed(f"the demo's accounts file gives {ACCOUNT!r} no billing_webhook")
    return secret


def load_demo_accounts(
    folder: Path,
    sandbox_url: str,
    database_url: str,
    at: datetime,
    *,
    webhook_url: str | None = None,
) -> tuple[int, ZoneInfo]:
    """Load the example accounts (platform URLs pointing at ``sandbox_url``, the webhook at
    ``webhook_url`` when given) into the database at ``database_url``, migrating it first;
    returns Acme's account id and time zone."""
    accounts_file = prepare_demo_accounts(folder, sandbox_url, webhook_url)
    upgrade(database_url)
    engine = make_engine(database_url)
    try:
        sessions = make_session_factory(engine)
        with sessions.begin() as session:
            apply_config(session, load_file(accounts_file), at, cipher=local_cipher())
        account = SeatService(sessions).account_by_name(ACCOUNT)
        if account is None:
            raise DemoStepFailed(f"the demo's accounts file has no account {ACCOUNT!r}")
        return account.id, zone(account.timezone)
    finally:
        engine.dispose()


def main(console: Console | None = None, *, keep_in: Path | None = None) -> int:
    """Run the demo in a fresh event loop; returns 0, or raises :class:`DemoStepFailed`.

    The database and the digest's chart are kept in ``keep_in`` (default: a new folder in the
    system's temporary folder, named in the transcript)."""
    folder = keep_in or Path(tempfile.mkdtemp(prefix="seatbot-demo-"))
    return asyncio.run(run_demo(console or Console(), keep_in=folder))
