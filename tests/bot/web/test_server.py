"""The ASGI server, ``seatbot serve`` and ``seatbot tokens``: routes, CLI, and a real process."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import typer
from cryptography.fernet import Fernet
from pydantic import SecretStr
from slack_bolt.async_app import AsyncApp
from starlette.applications import Starlette
from typer.testing import CliRunner
from uvicorn.protocols.http.h11_impl import H11Protocol

from bot.cli import slack as cli_slack
from bot.offline.standin import SlackDriver, SlackStandIn, StandInServer, start_standin
from bot.runtime.db import upgrade
from bot.runtime.installations import SqlInstallationStore, TokenCipher, TokenKeyError
from bot.runtime.settings import Settings
from bot.runtime.wiring import build_runtime, run_server
from bot.web.bolt_app import ConfigurationError
from bot.web.server import KEEP_ALIVE_SECONDS, MAX_HEADER_BYTES, uvicorn_config
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


# ---------------------------------------------------------------- the CLI


def cli(serve: Any = None) -> typer.Typer:
    app = typer.Typer()
    app.callback()(lambda: None)
    if serve is None:
        cli_slack.register(app)
    else:
        cli_slack.register(app, serve=serve)
    return app


def test_serve_passes_host_and_port() -> None:
    calls: list[tuple[str, int | None]] = []

    def fake_serve(settings: Settings, host: str, port: int | None) -> None:
        calls.append((host, port))

    runner = CliRunner()
    assert runner.invoke(cli(fake_serve), ["serve", "--port", "4001"]).exit_code == 0
    assert runner.invoke(cli(fake_serve), ["serve", "--host", "127.0.0.1"]).exit_code == 0
    assert calls == [("0.0.0.0", 4001), ("127.0.0.1", None)]  # noqa: S104 - the default
    refused = runner.invoke(cli(fake_serve), ["serve", "--port", "70000"])
    assert refused.exit_code == 2


def test_serve_reports_missing_settings_as_bad_input(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SLACK_SIGNING_SECRET", "SLACK_BOT_TOKEN", "SLACK_CLIENT_ID", "SLACK_APP_TOKEN"):
        monkeypatch.delenv(name, raising=False)

    def strict_serve(settings: Settings, host: str, port: int | None) -> None:
        from bot.web.bolt_app import build_app

        build_app(settings, None, register=no_listeners)  # type: ignore[arg-type]

    result = CliRunner().invoke(cli(strict_serve), ["serve"])
    assert result.exit_code == 2
    assert "SLACK_SIGNING_SECRET" in result.output


async def test_tokens_new_key_and_rotate(
    monkeypatch: pytest.MonkeyPatch, migrated_url: str
) -> None:
    runner = CliRunner()
    new_key = runner.invoke(cli(), ["tokens", "new-key"]).output.strip()
    Fernet(new_key.encode())  # a valid key
    old_key = TokenCipher.new_key()

    from slack_sdk.oauth.installation_store.models.installation import Installation

    from bot.runtime.db import make_engine, make_session_factory

    engine = make_engine(migrated_url)
    sessions = make_session_factory(engine)
    store = SqlInstallationStore(sessions, TokenCipher([old_key]), client_id="1.2")
    await store.async_save(
        Installation(team_id="T1", user_id="U1", bot_token=BOT_TOKEN, bot_id="B", bot_user_id="U")
    )
    monkeypatch.setenv("DATABASE_URL", migrated_url)
    monkeypatch.setenv("SEATBOT_TOKEN_KEYS", f"{new_key},{old_key}")
    rotated = runner.invoke(cli(), ["tokens", "rotate"])
    assert rotated.exit_code == 0, rotated.output
    assert "Re-encrypted 2 stored token(s)" in rotated.output
    only_new = SqlInstallationStore(sessions, TokenCipher([new_key]), client_id="1.2")
    bot = await only_new.async_find_bot(enterprise_id=None, team_id="T1")
    engine.dispose()
    assert bot is not None
    assert bot.bot_token == BOT_TOKEN

    monkeypatch.setenv("SEATBOT_TOKEN_KEYS", TokenCipher.new_key())  # the keys were lost
    lost = runner.invoke(cli(), ["tokens", "rotate"])
    assert lost.exit_code == 1
    assert "Nothing was changed" in lost.output
    monkeypatch.delenv("SEATBOT_TOKEN_KEYS")
    assert runner.invoke(cli(), ["tokens", "rotate"]).exit_code == 2


# ---------------------------------------------------------------- a real `seatbot serve` process


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


_LAUNCHER = (
    "import typer; from bot.cli import slack as cli_slack; app = typer.Typer(); "
    "app.callback()(lambda: None); cli_slack.register(app); app()"
)


@pytest.fixture
async def standin() -> AsyncIterator[StandInServer]:
    slack = SlackStandIn()
    slack.add_workspace("T0PROC", BOT_TOKEN)
    async with start_standin(slack) as server:
        yield server


@pytest.fixture
def serve_process(tmp_path: Path, standin: StandInServer) -> Iterator[tuple[str, Path, Path]]:
    port = _free_port()
    database = tmp_path / "process.db"
    log_path = tmp_path / "serve.log"
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{database}",
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_API_URL": standin.api_url,
    }
    for name in ("SLACK_APP_TOKEN", "SLACK_CLIENT_ID", "SLACK_CLIENT_SECRET", "PORT"):
        env.pop(name, None)
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-c", _LAUNCHER, "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            yield f"http://127.0.0.1:{port}", database, log_path
        finally:
            process.terminate()
            process.wait(timeout=10)


async def _wait_healthy(url: str, within_s: float = 30.0) -> None:
    deadline = time.monotonic() + within_s
    async with httpx.AsyncClient(timeout=2.0) as http:
        while True:
            try:
                if (await http.get(f"{url}/healthz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"{url} did not become healthy within {within_s} s")
            await asyncio.sleep(0.05)


@pytest.mark.slow
async def test_seatbot_serve_migrates_then_answers_signed_requests(
    serve_process: tuple[str, Path, Path], standin: StandInServer
) -> None:
    url, database, log_path = serve_process
    await _wait_healthy(url)
    with sqlite3.connect(database) as connection:
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
    assert {"accounts", "slack_installations", "alembic_version"} <= tables

    async with SlackDriver(
        url, SIGNING_SECRET, standin_url=standin.url, team_id="T0PROC"
    ) as driver:
        forged = await driver.post("command=%2Fseats", headers={"X-Slack-Signature": "v0=00"})
        assert forged.status_code == 401
        answered = await driver.slash_command("help", user_id="U1", channel_id="C1")
        assert answered.status_code == 200
    replies = await standin.standin.wait_for("response_url", within_s=10)
    assert "/seats" in str(replies[0].args)
    assert standin.standin.violations == []
    assert BOT_TOKEN not in log_path.read_text(encoding="utf-8", errors="replace")


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


# ---------------------------------------------------------------- configuration before migrations


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
            {
                "slack_signing_secret": SIGNING_SECRET,
                "slack_client_id": "1.2",
                "slack_client_secret": "client-secret",
            },
            TokenKeyError,
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
    settings = Settings.model_validate({**given, "database_url": unreachable})
    with pytest.raises(error, match=named):
        run_server(settings, "127.0.0.1", 0)


def test_the_uvicorn_config_bounds_connections() -> None:
    config = uvicorn_config(Starlette(), host="127.0.0.1", port=3000)
    # uvicorn's h11 protocol (the h11 limits below apply only to it), bounded by
    # bot.web.connection_limits instead of limit_concurrency (503 to everyone when full).
    assert isinstance(config.http, type)
    assert issubclass(config.http, H11Protocol)
    assert config.limit_concurrency is None
    assert config.ws == "none"
    assert config.timeout_keep_alive == KEEP_ALIVE_SECONDS
    assert config.h11_max_incomplete_event_size == MAX_HEADER_BYTES
    assert config.log_config is None  # our handlers (and their redaction) stay in charge
    assert config.access_log
