"""``seatbot sandbox``: a local server that speaks the platform user API (``platforms.sandbox``),
for the demo, tests and benchmarks."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from bot.cli.commands import add_command, until_stopped
from bot.cli.errors import fail_bad_input
from platforms.sandbox import DEFAULT_API_KEY

if TYPE_CHECKING:
    from platforms.sandbox import SandboxApp

#: ``serve(app, host, port, announce)`` listens on the port, calls ``announce()`` once it
#: serves, and runs the sandbox until Ctrl-C or SIGTERM.
SandboxServe = Callable[["SandboxApp", str, int, Callable[[], None]], None]


def serve_with_uvicorn(app: SandboxApp, host: str, port: int, announce: Callable[[], None]) -> None:
    """Run the sandbox on uvicorn, one worker (the sandbox keeps its state in memory); a port
    already taken is one line naming it (exit 1), before anything is announced."""
    from bot.web.server import bind_port, serve_until_stopped

    serve_until_stopped(app, bind_port(host, port), lifespan="on", announce=announce)


def register(app: typer.Typer, *, serve: SandboxServe = serve_with_uvicorn) -> None:
    """Add ``seatbot sandbox`` to the CLI (``serve`` is replaceable for tests)."""
    add_command(app, "sandbox", _sandbox_command(serve))


def _sandbox_command(serve: SandboxServe) -> Callable[..., None]:
    def sandbox(
        host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
        port: Annotated[int, typer.Option(help="Port to listen on.")] = 8765,
        latency_ms: Annotated[
            int, typer.Option("--latency-ms", help="Delay added to every API request.")
        ] = 0,
        fault: Annotated[
            list[str] | None,
            typer.Option(
                help="A fault switched on at start, e.g. rate_limit:times=1,retry_after=2 "
                "(kinds: latency, slow_page, rate_limit, server_error, expired_token, "
                "broken_page, malformed_json). Repeatable.",
            ),
        ] = None,
        accounts: Annotated[
            Path | None,
            typer.Option(
                help='JSON list of {"tenant", "product", "users", "seed"}; other accounts get '
                "a user count derived from their name."
            ),
        ] = None,
        api_key: Annotated[
            str, typer.Option("--api-key", help="The credential the sandbox accepts.")
        ] = DEFAULT_API_KEY,
        min_users: Annotated[
            int, typer.Option("--min-users", help="Fewest users a generated tenant has.")
        ] = 5,
        max_users: Annotated[
            int, typer.Option("--max-users", help="Most users a generated tenant has.")
        ] = 250,
        page_size: Annotated[
            int, typer.Option("--page-size", help="Largest page the API serves.")
        ] = 100,
    ) -> None:
        """Run a local server that speaks the platform user API (demo, tests, benchmarks)."""
        app = build_sandbox(
            latency_ms=latency_ms,
            faults=fault or [],
            accounts_file=accounts,
            api_key=api_key,
            min_users=min_users,
            max_users=max_users,
            page_size=page_size,
        )
        base = f"http://{host}:{port}"

        def announce() -> None:
            typer.echo(f"Sandbox platforms on {base}")
            typer.echo(
                f"  base URL for an account: {base}/t/TENANT/PRODUCT (contact_center|axiom|matrix)"
            )
            typer.echo(
                f"  admin: {base}/_sandbox/faults, {base}/_sandbox/accounts/TENANT/PRODUCT/users"
            )

        with until_stopped("Sandbox platforms"):
            serve(app, host, port, announce)

    return sandbox


def build_sandbox(
    *,
    latency_ms: int = 0,
    faults: Sequence[str] = (),
    accounts_file: Path | None = None,
    api_key: str = DEFAULT_API_KEY,
    min_users: int = 5,
    max_users: int = 250,
    page_size: int = 100,
) -> SandboxApp:
    """The sandbox app from command-line style options; bad options exit with status 2."""
    from platforms.sandbox import Fault, SandboxApp, SandboxConfig, load_accounts_file

    if latency_ms < 0 or page_size < 1 or not 0 <= min_users <= max_users:
        raise fail_bad_input("latency must be ≥ 0, page size ≥ 1, and min-users ≤ max-users")
    try:
        parsed = [Fault.parse_option(option) for option in faults]
        accounts = (
            load_accounts_file(json.loads(accounts_file.read_text(encoding="utf-8")))
            if accounts_file is not None
            else {}
        )
    except (OSError, ValueError) as exc:
        raise fail_bad_input(f"--accounts: cannot read {accounts_file}: {exc}") from None
    if latency_ms:
        parsed.insert(0, Fault(kind="latency", ms=latency_ms))
    config = SandboxConfig(
        api_key=api_key,
        min_users=min_users,
        max_users=max_users,
        max_per_page=page_size,
        faults=parsed,
        accounts=accounts,
    )
    return SandboxApp(config)
