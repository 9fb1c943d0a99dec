"""``seatbot serve`` and ``seatbot tokens`` (``bot.cli.slack``): arguments, settings refused as
bad input, and token keys made and rotated."""

from __future__ import annotations

import logging
from typing import Any

import pytest
import typer
from cryptography.fernet import Fernet
from typer.testing import CliRunner

from bot.cli import slack as cli_slack
from bot.runtime.installations import SqlInstallationStore
from bot.runtime.secrets import TokenCipher
from bot.runtime.settings import Settings

BOT_TOKEN = "xoxb-server-test-000-token"


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


def test_serve_leaves_logging_to_the_server(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The CLI's log handler (which keeps each warning for a summary line at exit) is gone
    while the server runs: a server's warnings are its own log lines, not a growing list."""
    from bot import cli as seatbot_cli
    from bot.runtime import wiring

    seen: list[list[logging.Handler]] = []

    def fake_run_server(settings: Settings, host: str, port: int | None) -> None:
        root = logging.getLogger()
        seen.append([h for h in root.handlers if isinstance(h, seatbot_cli.CliLogHandler)])
        logging.getLogger("seatbot.test").warning("a warning while serving")

    monkeypatch.setattr(wiring, "run_server", fake_run_server)
    assert seatbot_cli.run(["serve", "--port", "4001"]) == 0
    assert seen == [[]]
    assert "warning" not in capsys.readouterr().err  # nothing kept for a summary


def test_serve_reports_missing_settings_as_bad_input(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SLACK_SIGNING_SECRET", "SLACK_BOT_TOKEN", "SLACK_CLIENT_ID", "SLACK_APP_TOKEN"):
        monkeypatch.delenv(name, raising=False)

    def strict_serve(settings: Settings, host: str, port: int | None) -> None:
        from bot.web.bolt_app import build_app

        build_app(settings, None, register=lambda app, deps: None)  # type: ignore[arg-type]

    result = CliRunner().invoke(cli(strict_serve), ["serve"])
    assert result.exit_code == 2
    assert "SLACK_SIGNING_SECRET" in result.output


async def test_tokens_new_key_and_rotate(monkeypatch: pytest.MonkeyPatch, db_url: str) -> None:
    runner = CliRunner()
    new_key = runner.invoke(cli(), ["tokens", "new-key"]).output.strip()
    Fernet(new_key.encode())  # a valid key
    old_key = TokenCipher.new_key()

    from slack_sdk.oauth.installation_store.models.installation import Installation

    from bot.runtime.db import make_engine, make_session_factory

    engine = make_engine(db_url)
    sessions = make_session_factory(engine)
    store = SqlInstallationStore(sessions, TokenCipher([old_key]), client_id="1.2")
    await store.async_save(
        Installation(team_id="T1", user_id="U1", bot_token=BOT_TOKEN, bot_id="B", bot_user_id="U")
    )
    monkeypatch.setenv("DATABASE_URL", db_url)
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
