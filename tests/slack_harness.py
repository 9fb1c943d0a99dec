"""Test harness: the real Seatbot app on a loopback socket, talking to a Slack stand-in.

    async with serve_seatbot(settings, team_id="T0ACME") as harness:
        result = await harness.driver.slash_command("status", user_id="U1", channel_id="C1")
        posted = await harness.standin.wait_for("chat.postMessage")

``settings.slack_api_url`` is replaced by the stand-in's address; in single-workspace mode the
bot token from the settings is registered with the stand-in for ``team_id``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from bot.offline.standin.slack_api import RunningServer, SlackStandIn, serve_asgi, start_standin
from bot.offline.standin.slack_driver import SlackDriver
from bot.runtime.db import upgrade
from bot.runtime.settings import Settings
from bot.runtime.wiring import SlackRuntime, build_runtime
from bot.web.bolt_app import ListenerRegistrar


@dataclass
class SlackHarness:
    """A running app and stand-in, and a driver that signs requests for the app."""

    settings: Settings
    standin: SlackStandIn
    standin_url: str
    app_url: str
    runtime: SlackRuntime
    driver: SlackDriver
    server: RunningServer


@contextlib.asynccontextmanager
async def serve_seatbot(
    settings: Settings,
    *,
    standin: SlackStandIn | None = None,
    team_id: str = "T0SEATBOT",
    register: ListenerRegistrar | None = None,
    migrate: bool = True,
) -> AsyncIterator[SlackHarness]:
    """Start the stand-in, apply migrations, serve the app on a free loopback port."""
    if settings.slack_signing_secret is None:
        raise ValueError("the harness needs settings.slack_signing_secret to sign requests")
    signing_secret = settings.slack_signing_secret.get_secret_value()
    async with start_standin(standin) as slack:
        settings = settings.model_copy(update={"slack_api_url": slack.api_url})
        if settings.slack_bot_token is not None:
            slack.standin.add_workspace(team_id, settings.slack_bot_token.get_secret_value())
        if migrate:
            await asyncio.to_thread(upgrade, settings.database_url)
        runtime = build_runtime(settings, register=register)
        server = serve_asgi(runtime.asgi_app, lifespan="on")
        await server.started()  # the scheduler and the sender run: the app is what it will be
        driver = SlackDriver(
            server.url,
            signing_secret,
            standin_url=slack.url,
            team_id=team_id,
        )
        try:
            yield SlackHarness(
                settings, slack.standin, slack.url, server.url, runtime, driver, server
            )
        finally:
            await driver.aclose()
            await server.stop()
