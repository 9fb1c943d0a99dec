"""End-to-end harness: the real Bolt app served over HTTP as ``seatbot serve`` serves it
(uvicorn, its connections bounded: :func:`bot.web.server.served_config`), the Slack stand-in it
calls, the sandbox platform server it reads users from, and a driver that signs requests
exactly as Slack does.

``stack`` seeds account ``acme`` (workspace ``T_ACME``; owner ``U_OWNER``, manager
``U_MANAGER``, viewer ``U_VIEWER``) with an Axiom subscription of 10 seats at 30.00 USD a
month (period January 2026) and 8 users on the sandbox's Axiom, connected through a
``platform_connections`` row as the operator's YAML would. The app's clock is fixed at 16 January
2026 12:00 UTC, so every amount is exact; a test may move it (``stack.clock``), as time passes.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from pydantic import SecretStr
from sqlalchemy.orm import Session, sessionmaker

from billing.access import Caller
from billing.approvals.rules import ApprovalPolicy
from billing.books.service import SeatService
from billing.models import Account, Member
from billing.seats.outcomes import AwaitingApproval, ReadyToConfirm
from billing.seats.service import SeatChanges
from billing.setup.store import PlatformConnection as PlatformConnectionRow
from billing.setup.store import apply_approval_policy
from billing.users import UserListing
from billing.views import SeatChangeView
from bot.offline.standin import RecordedCall, SlackDriver, SlackStandIn, start_standin
from bot.offline.standin.bolt_tasks import bolt_listeners_finished
from bot.offline.standin.serving import RunningServer, serve_asgi, serve_uvicorn
from bot.offline.standin.slack_driver import button, number_input_value, static_select_value
from bot.runtime.platform_credentials import seal
from bot.runtime.secrets import TokenCipher
from bot.runtime.settings import Settings
from bot.runtime.wiring import build_runtime
from bot.web.server import served_config
from handlers import ids
from platforms.sandbox import DEFAULT_API_KEY, SandboxApp, SandboxConfig
from platforms.types import Product

SIGNING_SECRET = "e2e-signing-secret"
BOT_TOKEN = "xoxb-e2e-bot-token"
TEAM = "T_ACME"
CHANNEL = "C_SEATS"
NOW = datetime(2026, 1, 16, 12, 0, tzinfo=UTC)
AXIOM_USERS = 8
#: The Fernet key the stack's platform credentials are sealed with (``SEATBOT_TOKEN_KEYS``).
TOKEN_KEY = "0Yjc4mZ3kAs1WwXyvoV8v6l0hZBzXnC1Q2tY3u4s5Pw="


def blocks_text(args: dict[str, Any]) -> str:
    """Every piece of text in a message payload's blocks, joined (for assertions)."""
    found: list[str] = [str(args.get("text") or "")]

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if key == "text" and isinstance(item, str):
                    found.append(item)
                else:
                    walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(args.get("blocks") or [])
    return "\n".join(found)


def buttons_of(args: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The buttons a message offers, by action_id, each with its block_id."""
    found: dict[str, dict[str, Any]] = {}
    for block in args.get("blocks") or []:
        if block.get("type") == "actions":
            for element in block["elements"]:
                found[element["action_id"]] = dict(element, block_id=block.get("block_id"))
    return found


class StackClock:
    """The app's clock: :data:`NOW` until a test moves it (time passing, whether or not the
    scheduler runs)."""

    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, by: timedelta) -> None:
        self.now += by


@dataclass
class Stack:
    standin: SlackStandIn
    sandbox: SandboxApp
    driver: SlackDriver
    service: SeatService
    seeded: Any
    sessions: sessionmaker[Session]
    clock: StackClock
    #: What ``seatbot serve`` composed (its report jobs post the digest).
    runtime: Any = None

    def _seq(self) -> int:
        calls = self.standin.calls()
        return calls[-1].seq if calls else 0

    async def next_call(self, method: str, after: int, *, within_s: float = 10.0) -> RecordedCall:
        calls = await self.standin.wait_for(
            method, within_s=within_s, where=lambda call: call.seq > after
        )
        return calls[0]

    async def command(
        self, text: str, *, user: str = "U_OWNER", team: str | None = None
    ) -> RecordedCall:
        """``/seats text`` typed by ``user`` in the account's channel; returns the reply: the
        one posted to the response URL, or the ack itself when it carries the answer (help, a
        command that cannot be read), as a call of method ``ack``."""
        before = self._seq()
        result = await self.driver.slash_command(
            text, user_id=user, channel_id=CHANNEL, team_id=team
        )
        assert result.status_code == 200
        return result.answer(before) or await self.next_call("response_url", before)

    async def click(
        self, reply: RecordedCall, action_id: str, *, user: str = "U_OWNER"
    ) -> RecordedCall:
        """Click ``action_id`` on the ephemeral message ``reply``; returns what replaced it."""
        before = self._seq()
        await self.send_click(reply, action_id, user=user)
        return await self.next_call("response_url", before)

    async def send_click(
        self, reply: RecordedCall, action_id: str, *, user: str = "U_OWNER"
    ) -> None:
        offered = buttons_of(reply.args)
        assert action_id in offered, f"{action_id} not offered: {sorted(offered)}"
        element = offered[action_id]
        await self.send_press(action_id, element["value"], user=user, block_id=element["block_id"])

    async def press(
        self,
        action_id: str,
        value: str,
        *,
        user: str = "U_OWNER",
        team: str | None = None,
        block_id: str = "seats_prompt_actions",
    ) -> RecordedCall:
        """Send a click on ``action_id`` carrying ``value``, as anyone could forge it (signed);
        returns the reply."""
        before = self._seq()
        await self.send_press(action_id, value, user=user, team=team, block_id=block_id)
        return await self.next_call("response_url", before)

    async def send_press(
        self,
        action_id: str,
        value: str,
        *,
        user: str = "U_OWNER",
        team: str | None = None,
        block_id: str = "seats_prompt_actions",
    ) -> None:
        action = button(action_id, value, block_id=block_id, text="x")
        result = await self.driver.block_action(
            action, user_id=user, channel_id=CHANNEL, team_id=team
        )
        assert result.status_code == 200

    async def settle(self) -> None:
        """Wait until every listener the app started has finished."""
        await bolt_listeners_finished()

    def add_member(self, user_id: str, role: str, *, team_id: str = TEAM) -> None:
        """Give ``user_id`` a role in the seeded account."""
        with self.sessions.begin() as session:
            session.add(
                Member(
                    account_id=self.seeded.account_id, team_id=team_id, user_id=user_id, role=role
                )
            )

    def requests(self) -> list[SeatChangeView]:
        return self.service.history(self.seeded.account_id, 100)


def connect_sandbox(sessions: sessionmaker[Session], account_id: int, sandbox_url: str) -> None:
    """The account's Axiom connection, pointing at the sandbox (short timeouts for tests), its
    credentials sealed with :data:`TOKEN_KEY` as ``seatbot load`` seals them."""
    options = {
        "timeouts": {"connect_s": 2, "read_s": 2, "listing_deadline_s": 5},
        "retry": {"max_attempts": 2, "backoff_initial_s": 0.01, "backoff_max_s": 0.05},
    }
    credentials = {"api_key": DEFAULT_API_KEY, "login_email": "admin@acme.example"}
    with sessions.begin() as session:
        session.add(
            PlatformConnectionRow(
                account_id=account_id,
                product=Product.AXIOM.value,
                kind="api",
                base_url=f"{sandbox_url}/t/acme/axiom",
                options=json.dumps(options),
                credentials_encrypted=seal(TokenCipher([TOKEN_KEY]), credentials),
            )
        )


@contextlib.asynccontextmanager
async def start_stack(
    seed: Any,
    session_factory: sessionmaker[Session],
    db_url: str,
    *,
    settings: Mapping[str, Any] | None = None,
) -> AsyncIterator[Stack]:
    """The whole app over HTTP on loopback ports, assembled as ``seatbot serve`` assembles it
    (:func:`bot.runtime.wiring.build_runtime`), with ``acme`` seeded by ``seed``; ``settings``
    adds to (or overrides) the stack's settings."""
    seeded = seed("acme", product="axiom", seats=10, team_id=TEAM, anchor=date(2026, 1, 1))
    service = SeatService(session_factory)
    sandbox = SandboxApp(SandboxConfig())
    sandbox.set_account("acme", "axiom", users=AXIOM_USERS, seed=1)
    sandbox_server: RunningServer = serve_asgi(sandbox)
    connect_sandbox(session_factory, seeded.account_id, sandbox_server.url)
    async with start_standin() as standin_server:
        standin = standin_server.standin
        standin.add_workspace(TEAM, BOT_TOKEN)
        app_settings = Settings(
            database_url=db_url,
            slack_bot_token=SecretStr(BOT_TOKEN),
            slack_signing_secret=SecretStr(SIGNING_SECRET),
            slack_api_url=standin_server.api_url,
            seatbot_platform_deadline_seconds=5.0,
            seatbot_token_keys=SecretStr(TOKEN_KEY),
        ).model_copy(update=dict(settings or {}))
        clock = StackClock()
        runtime = build_runtime(app_settings, clock=clock)
        app_server = serve_uvicorn(
            served_config(
                runtime.asgi_app,
                app_settings,
                host="127.0.0.1",
                port=0,
                operations=runtime.operations,
            )
        )
        driver = SlackDriver(
            app_server.url, SIGNING_SECRET, standin_url=standin_server.url, team_id=TEAM
        )
        try:
            yield Stack(standin, sandbox, driver, service, seeded, session_factory, clock, runtime)
            assert standin.violations == []
            # Whatever a test did over HTTP, the stored money still holds together.
            await bolt_listeners_finished()
            report = service.check_invariants()
            assert report.violations == (), [str(v) for v in report.violations]
        finally:
            await driver.aclose()
            await app_server.stop()
            await sandbox_server.stop()


def pending_approval(
    seed: Callable[..., Any], sessions: sessionmaker[Session], *, name: str, team: str, at: datetime
) -> int:
    """A decrease of account ``name`` waiting for approval since ``at``, under a policy that
    reminds after 2 h, escalates to ``U_CFO`` after 4 h and expires after 8 h; its id."""
    account_ids = seed(name, team_id=team)
    policy = ApprovalPolicy(
        require_decrease=True,
        remind_after=timedelta(hours=2),
        escalate_after=timedelta(hours=4),
        escalate_to=((team, "U_CFO"),),
        expire_after=timedelta(hours=8),
    )
    with sessions.begin() as session:
        account = session.get(Account, account_ids.account_id)
        assert account is not None
        apply_approval_policy(session, account, policy)
    owner = Caller(team, "U_OWNER")
    changes = SeatChanges(sessions)
    none = UserListing.complete([])
    draft = changes.request_by_form(
        owner,
        account_id=account_ids.account_id,
        subscription_id=account_ids.subscription_id,
        new_seats=8,
        at=at,
        users=none,
    )
    assert isinstance(draft, ReadyToConfirm)
    waiting = changes.confirm(owner, request_id=draft.request.id, revision=1, at=at, users=none)
    assert isinstance(waiting, AwaitingApproval)
    return draft.request.id


def form_values(view: dict[str, Any], count: str | None) -> dict[str, dict[str, Any]]:
    """The seat-change form's state with its preset product and ``count`` typed in."""
    [product] = [b for b in view["blocks"] if b.get("block_id") == ids.PRODUCT_BLOCK]
    option = product["element"]["initial_option"]
    return {
        ids.PRODUCT_BLOCK: {
            ids.PRODUCT_ACTION: static_select_value(option["value"], option["text"]["text"])
        },
        ids.COUNT_BLOCK: {ids.COUNT_ACTION: number_input_value(count)},
    }
