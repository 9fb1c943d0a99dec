"""``seatbot dev``: the app, the sandbox platforms and a Slack stand-in, with a /seats prompt."""

from __future__ import annotations

import asyncio
import errno
import sys
from pathlib import Path
from typing import Annotated

import typer

from bot.cli.commands import add_command, until_stopped
from bot.cli.errors import fail_bad_input
from bot.cli.output import transcript_console


def dev(
    user: Annotated[
        str, typer.Option("--user", help="The Slack user id you type as (see `as USER`).")
    ] = "U0ACMEOWNER",
    database: Annotated[
        Path, typer.Option("--database", help="The local SQLite file (created if missing).")
    ] = Path("seatbot-dev.db"),
    port: Annotated[
        int, typer.Option("--port", help="The app's port on 127.0.0.1 (0 picks a free one).")
    ] = 3000,
) -> None:
    """Run Seatbot locally without Slack, and talk to it at a prompt.

    Starts the sandbox platforms, a local stand-in for the Slack Web API and the real app on
    127.0.0.1, loads the example accounts into a local SQLite file, then reads commands: type
    `/seats status` and see the reply as text; buttons are numbered, type `1` to click the first.
    Type `help` for more; the end of input (Ctrl-D) or Ctrl-C stops. Commands can be piped in too.
    """
    from bot.offline.dev import curl_example, dev_servers
    from bot.offline.dev_prompt import DevPrompt
    from bot.web.server import cannot_listen

    if not 0 <= port < 65536:
        raise fail_bad_input(f"--port: {port} is not a port number (0–65535)")
    console = transcript_console()
    interactive = sys.stdin.isatty()

    async def session() -> None:
        async with dev_servers(database, port=port) as servers:
            console.print(
                f"Seatbot dev · app {servers.app_url} · Slack stand-in {servers.standin_url} · "
                f"sandbox platforms {servers.sandbox_url} · {servers.database_url}",
                style="dim",
                highlight=False,
            )
            console.print("To send a signed request yourself:", style="dim")
            console.print(curl_example(servers, user), style="dim", highlight=False, soft_wrap=True)
            console.print("Type `help` for the commands.", style="dim")
            prompt = DevPrompt(servers, console, user_id=user)
            await prompt.run(sys.stdin, interactive=interactive)

    try:
        with until_stopped("Seatbot dev"):  # Ctrl-C at the prompt is how people leave it
            asyncio.run(session())
    except OSError as error:
        if error.errno not in (errno.EADDRINUSE, errno.EACCES):
            raise
        raise cannot_listen("127.0.0.1", port, error) from None


def register(app: typer.Typer) -> None:
    """Add ``seatbot dev``."""
    add_command(app, "dev", dev)
