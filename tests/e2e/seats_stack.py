"""End-to-end harness: the real Bolt app served over HTTP (uvicorn), the Slack stand-in it
calls, the sandbox platform server it reads users from, and a driver that signs requests
exactly as Slack does.

``stack`` seeds account ``acme`` (workspace ``T_ACME``; owner ``U_OWNER``, manager
``U_MANAGER``, viewer ``U_VIEWER``) with an Axiom subscription of 10 seats at 30.00 USD a
month (period January 2026) and 8 users on the sandbox's Axiom. The app's clock is fixed at
16 January 2026 12:00 UTC, so every amount is exact.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import httpx
from pydantic import SecretStr
from sqlalchemy.orm import Session, sessionmaker

from billing.service import SeatService
from billing.views import SeatChangeView
from bot.app import build_app
from bot.server import build_asgi_app
from bot.settings import Settings
from bot.standin import RecordedCall, SlackDriver, SlackStandIn, start_standin
from bot.standin.slack_api import RunningServer, serve_asgi
from bot.standin.slack_driver import button
from handlers.deps import HandlerDeps
from platforms.connection import PlatformConnection, RetryPolicy, Timeouts
from platforms.factory import build_platform
from platforms.sandbox import DEFAULT_API_KEY, SandboxApp, SandboxConfig
from platforms.types import Platform, Product

SIGNING_SECRET = "e2e-signing-secret"
BOT_TOKEN = "xoxb-e2e-bot-token"
TEAM = "T_ACME"
CHANNEL = "C_SEATS"
NOW = datetime(2026, 1, 16, 12, 0, tzinfo=UTC)
AXIOM_USERS = 8


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


@dataclass
class Stack:
    standin: SlackStandIn
    sandbox: SandboxApp
    driver: SlackDriver
    service: SeatService
    seeded: Any

    def _seq(self) -> int:
        calls = self.standin.calls()
        return calls[-1].seq if calls else 0

    async def next_call(self, method: str, after: int, *, within_s: float = 10.0) -> RecordedCall:
        calls = await self.standin.wait_for(
            method, within_s=within_s, where=lambda call: call.seq > after
        )
        return calls[0]

    async def command(self, text: str, *, user: str = "U_OWNER") -> RecordedCall:
        """``/seats text`` typed by ``user`` in the account's channel; returns the reply."""
        before = self._seq()
        result = await self.driver.slash_command(text, user_id=user, channel_id=CHANNEL)
        assert result.status_code == 200
        return await self.next_call("response_url", before)

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
        action = button(action_id, element["value"], block_id=element["block_id"], text="x")
        result = await self.driver.block_action(action, user_id=user, channel_id=CHANNEL)
        assert result.status_code == 200

    def requests(self) -> list[SeatChangeView]:
        return self.service.history(self.seeded.account_id, 100)


def _platform_for(
    sandbox_url: str, transport: httpx.AsyncBaseTransport
) -> Callable[[int, Product], Platform | None]:
    """Like ``bot.platform_directory``: a new client per call, on one shared transport."""

    def platform_for(account_id: int, product: Product) -> Platform | None:
        return build_platform(
            PlatformConnection(
                product=product,
                base_url=f"{sandbox_url}/t/acme/{product.value}",
                api_key=DEFAULT_API_KEY,
                login_email="admin@acme.example",
                token=DEFAULT_API_KEY,
                timeouts=Timeouts(connect_s=2, read_s=2, listing_deadline_s=5),
                retry=RetryPolicy(max_attempts=2, backoff_initial_s=0.01, backoff_max_s=0.05),
            ),
            transport=transport,
        )

    return platform_for


@contextlib.asynccontextmanager
async def start_stack(seed: Any, session_factory: sessionmaker[Session]) -> AsyncIterator[Stack]:
    """The whole app over HTTP on loopback ports, with ``acme`` seeded by ``seed``."""
    seeded = seed("acme", product="axiom", seats=10, team_id=TEAM, anchor=date(2026, 1, 1))
    service = SeatService(session_factory)
    sandbox = SandboxApp(SandboxConfig())
    sandbox.set_account("acme", "axiom", users=AXIOM_USERS, seed=1)
    sandbox_server: RunningServer = serve_asgi(sandbox)
    transport = httpx.AsyncHTTPTransport()
    async with start_standin() as standin_server:
        standin = standin_server.standin
        standin.add_workspace(TEAM, BOT_TOKEN)
        settings = Settings(
            slack_bot_token=SecretStr(BOT_TOKEN),
            slack_signing_secret=SecretStr(SIGNING_SECRET),
            slack_api_url=standin_server.api_url,
        )
        deps = HandlerDeps(
            seat_service=service,
            platform_for=_platform_for(sandbox_server.url, transport),
            clock=lambda: NOW,
            platform_deadline_s=5.0,
        )
        app = build_app(settings, deps)
        app_server = serve_asgi(build_asgi_app(app, signing_secret=SIGNING_SECRET))
        driver = SlackDriver(
            app_server.url, SIGNING_SECRET, standin_url=standin_server.url, team_id=TEAM
        )
        try:
            yield Stack(standin, sandbox, driver, service, seeded)
            assert standin.violations == []
        finally:
            await driver.aclose()
            await app_server.stop()
            await transport.aclose()
            await sandbox_server.stop()
