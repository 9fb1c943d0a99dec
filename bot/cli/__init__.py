"""The ``seatbot`` command line: one entry point; each area registers its commands here."""

from __future__ import annotations

import importlib

import typer

# Each module exposes ``register(app)``; listed here so the CLI is assembled in one place.
_COMMAND_MODULES = ("bot.cli.prorate", "bot.cli.slack", "bot.cli.demo")


def build_cli() -> typer.Typer:
    """Assemble the ``seatbot`` CLI (no side effects at import time)."""
    app = typer.Typer(
        name="seatbot",
        help="Seatbot: add and remove paid Squaretalk seats from Slack, with exact proration.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )
    # A root callback keeps typer in multi-command mode even while few commands exist.
    app.callback()(_root)
    for module_name in _COMMAND_MODULES:
        importlib.import_module(module_name).register(app)
    # The billing and platform commands need platform facts from the database: wired here.
    from bot.cli import billing as cli_billing
    from bot.cli import platforms as cli_platforms
    from bot.cli import wiring as cli_wiring

    cli_billing.register(app, platform_check=cli_wiring.platform_check)
    cli_platforms.register(app, lookup=cli_wiring.users_lookup)
    return app


def _root() -> None:
    """Seatbot: add and remove paid Squaretalk seats from Slack, with exact proration."""


def main() -> None:
    """Console-script entry point."""
    build_cli()()
