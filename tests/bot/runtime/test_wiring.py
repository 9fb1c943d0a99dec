"""The composition root (``bot.runtime.wiring``): the routes the runtime serves in each install
mode, Socket Mode, and the configuration checked before the database is touched."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr
from slack_bolt.async_app import AsyncApp

from billing.errors import ConfigurationError
from bot.offline.standin import SlackStandIn, start_standin
from bot.runtime.db import upgrade
from bot.runtime.secrets import TokenCipher
from bot.runtime.settings import Settings
from bot.runtime.wiring import _serve_socket_mode, build_runtime, run_server
from handlers.deps import HandlerDeps

SIGNING_SECRET = "server-test-signing-secret"
BOT_TOKEN = "xoxb-server-test-000-token"


def no_listeners(app: AsyncApp, deps: HandlerDeps) -> None:
    """Registers nothing."""


@pytest.fixture
def migrated_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'server.db'}"
    upgrade(url)
    return url


def _client(settings: Settings) -> httpx.AsyncClient:
    runtime = build_runtime(settings, register=no_listeners)
    transport = httpx.ASGITransport(app=runtime.asgi_app)
    return httpx.AsyncClient(transport=transport, base_url="http://seatbot")


async def test_single_workspace_routes(migrated_url: str) -> None:
    settings = Settings(
        database_url=migrated_url,
        slack_signing_secret=SecretStr(SIGNING_SECRET),
        slack_bot_token=SecretStr(BOT_TOKEN),
    )
    async with _client(settings) as http:
        assert (await http.get("/healthz")).status_code == 200
        assert (await http.post("/slack/events", content="command=%2Fseats")).status_code == 401
        assert (await http.get("/slack/install")).status_code == 404
        assert (await http.get("/slack/events")).status_code == 405


async def test_oauth_routes_exist_only_with_oauth(migrated_url: str) -> None:
    settings = Settings(
        database_url=migrated_url,
        slack_signing_secret=SecretStr(SIGNING_SECRET),
        slack_client_id="1.2",
        slack_client_secret=SecretStr("client-secret"),
        seatbot_token_keys=SecretStr(TokenCipher.new_key()),
    )
    async with _client(settings) as http:
        install = await http.get("/slack/install")
        assert install.status_code == 200
        assert "slack-app-oauth-state=" in install.headers["set-cookie"]
        assert "client_id=1.2" in install.text
        redirect = await http.get("/slack/oauth_redirect", params={"error": "access_denied"})
        assert redirect.status_code < 500


async def test_socket_mode_wiring(migrated_url: str) -> None:
    """With SLACK_APP_TOKEN (and no signing secret) the app is built for Socket Mode: the
    socket client talks to the configured Web API, and the HTTP surface accepts nothing."""
    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

    settings = Settings(
        database_url=migrated_url,
        slack_bot_token=SecretStr(BOT_TOKEN),
        slack_app_token=SecretStr("xapp-1-A0SEATBOT-1-socketmodetoken"),
        slack_api_url="http://127.0.0.1:9/api/",
    )
    runtime = build_runtime(settings, register=no_listeners)
    handler = AsyncSocketModeHandler(runtime.bolt_app, "xapp-1-A0SEATBOT-1-socketmodetoken")
    assert handler.client.web_client.base_url == "http://127.0.0.1:9/api/"
    transport = httpx.ASGITransport(app=runtime.asgi_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://seatbot") as http:
        signed = await http.post("/slack/events", content="command=%2Fseats")
    assert signed.status_code == 401
    await handler.client.close()


async def test_socket_mode_says_connected_only_once_slack_accepts_the_app_token(
    migrated_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Slack refusing SLACK_APP_TOKEN keeps Socket Mode retrying; until it connects the log says
    it is connecting, never that it is connected."""
    standin = SlackStandIn()
    standin.add_workspace("T0SOCKET", BOT_TOKEN)
    async with start_standin(standin) as slack:
        settings = Settings(
            database_url=migrated_url,
            slack_bot_token=SecretStr(BOT_TOKEN),
            slack_app_token=SecretStr("xapp-1-A0SEATBOT-1-refused"),
            slack_api_url=slack.api_url,
            seatbot_scheduler=False,
        )
        runtime = build_runtime(settings, register=no_listeners)
        caplog.set_level(logging.INFO, logger="bot.runtime.wiring")
        serving = asyncio.create_task(_serve_socket_mode(runtime, "xapp-1-A0SEATBOT-1-refused"))
        try:
            refused = (await standin.wait_for("apps.connections.open"))[0]
        finally:
            serving.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await serving
    assert refused.ok is False
    said = [r.getMessage() for r in caplog.records if "Socket Mode" in r.getMessage()]
    assert said == ["Connecting to Slack over Socket Mode"]


@pytest.fixture
def restored_root_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        yield
    finally:
        for handler in root.handlers:
            if handler not in handlers:
                root.removeHandler(handler)
        root.setLevel(level)


_SLACK_ENVIRONMENT = (
    "SLACK_SIGNING_SECRET",
    "SLACK_BOT_TOKEN",
    "SLACK_APP_TOKEN",
    "SLACK_CLIENT_ID",
    "SLACK_CLIENT_SECRET",
    "SEATBOT_TOKEN_KEYS",
)


@pytest.mark.usefixtures("restored_root_logging")
@pytest.mark.parametrize(
    ("given", "error", "named"),
    [
        ({"slack_bot_token": BOT_TOKEN}, ConfigurationError, "SLACK_SIGNING_SECRET"),
        ({"slack_signing_secret": SIGNING_SECRET}, ConfigurationError, "SLACK_BOT_TOKEN"),
        (
            {  # OAuth on PostgreSQL (on SQLite the key file serves)
                "slack_signing_secret": SIGNING_SECRET,
                "slack_client_id": "1.2",
                "slack_client_secret": "client-secret",
                "database_url": "postgresql+psycopg://seatbot@127.0.0.1:9/seatbot",
            },
            ConfigurationError,
            "SEATBOT_TOKEN_KEYS",
        ),
    ],
)
def test_serve_reports_configuration_errors_before_touching_the_database(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    given: dict[str, str],
    error: type[Exception],
    named: str,
) -> None:
    for name in _SLACK_ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)
    unreachable = f"sqlite:///{tmp_path / 'no-such-folder' / 'seatbot.db'}"  # can't migrate
    settings = Settings.model_validate({"database_url": unreachable, **given})
    with pytest.raises(error, match=named):
        run_server(settings, "127.0.0.1", 0)


@pytest.mark.parametrize(("reconcile_at", "jobs"), [(None, 2), ("02:00", 3)])
def test_the_shared_reconciliation_is_scheduled_only_when_asked(
    migrated_url: str, reconcile_at: str | None, jobs: int
) -> None:
    settings = Settings(
        database_url=migrated_url,
        slack_signing_secret=SecretStr(SIGNING_SECRET),
        slack_bot_token=SecretStr(BOT_TOKEN),
        seatbot_reconcile_at=reconcile_at,
    )
    runtime = build_runtime(settings, register=no_listeners)
    assert runtime.scheduler is not None
    names = [job_id for job_id, _, _ in runtime.scheduler._jobs]
    assert len(names) == jobs
    assert ("shared reconciliation" in names) is (reconcile_at is not None)
    runtime.engine.dispose()
