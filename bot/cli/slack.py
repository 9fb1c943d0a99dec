"""``seatbot serve`` and ``seatbot tokens ...``: running the Slack app and caring for its tokens."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated

import typer

from bot.cli.commands import add_command, new_group
from bot.cli.errors import fail_bad_input

if TYPE_CHECKING:
    from bot.runtime.settings import Settings

ServeFunction = Callable[["Settings", str, "int | None"], None]


def _run_server(settings: Settings, host: str, port: int | None) -> None:
    from bot.runtime.wiring import run_server

    run_server(settings, host, port)


def register(app: typer.Typer, *, serve: ServeFunction = _run_server) -> None:
    """Add ``seatbot serve`` and the ``seatbot tokens`` group to the CLI (``serve`` is
    replaceable for tests)."""

    def serve_command(
        host: Annotated[str, typer.Option(help="Address to listen on (HTTP mode).")] = "0.0.0.0",  # noqa: S104 - a server listens on every interface unless told otherwise
        port: Annotated[
            int | None,
            typer.Option(
                help="Port to listen on (HTTP mode); default: PORT, else 3000; 0 picks a free "
                "one (the log says which)."
            ),
        ] = None,
    ) -> None:
        """Run the Slack app over HTTP, or over Socket Mode when SLACK_APP_TOKEN is set.

        Applies the database migrations first. Over HTTP it serves POST /slack/events (and the
        OAuth install routes), GET /healthz (liveness), GET /readyz (readiness: the database,
        its schema, the scheduler) and GET /metrics (Prometheus).
        """
        if port is not None and not 0 <= port < 65536:
            raise fail_bad_input(f"--port: {port} is not a port number (0–65535)")
        from bot.cli import hand_over_logging
        from bot.runtime.settings import load_settings

        settings = load_settings()
        hand_over_logging()  # the server logs for itself from here on
        serve(settings, host, port)

    add_command(app, "serve", serve_command)

    tokens = new_group(
        "Slack tokens stored for OAuth installations (encrypted with SEATBOT_TOKEN_KEYS)."
    )
    add_command(tokens, "rotate", rotate_command)
    add_command(tokens, "new-key", new_key_command)
    app.add_typer(tokens, name="tokens")


def rotate_command() -> None:
    """Re-encrypt every stored Slack token, platform credential and billing webhook secret with
    the newest key (the first in SEATBOT_TOKEN_KEYS). Put a new key first, run this, then drop
    the old key."""
    from bot.runtime.db import make_engine, make_session_factory, upgrade
    from bot.runtime.key_rotation import rotate_all
    from bot.runtime.secrets import rotation_cipher
    from bot.runtime.settings import load_settings

    settings = load_settings()
    cipher = rotation_cipher(settings)
    upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    try:
        report = rotate_all(make_session_factory(engine), cipher)
    finally:
        engine.dispose()
    typer.echo(
        f"Re-encrypted {report.slack_tokens} stored token(s), the credentials of "
        f"{report.platform_credentials} platform connection(s) and "
        f"{report.webhook_secrets} billing webhook secret(s) with the newest of "
        f"{cipher.key_count} key(s)."
    )


def new_key_command() -> None:
    """Print a new random key for SEATBOT_TOKEN_KEYS (put it first in the list)."""
    from bot.runtime.secrets import TokenCipher

    typer.echo(TokenCipher.new_key())
