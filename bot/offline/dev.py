"""``seatbot dev``: the real app with the sandbox platforms and the Slack stand-in.

One process, one event loop, loopback only: the sandbox platform server, the local stand-in for
the Slack Web API, and the real app (``bot.runtime.wiring``) over HTTP, on a local SQLite file
loaded with the example accounts. The developer talks to it at a prompt
(:class:`bot.offline.dev_prompt.DevPrompt`) or with hand-made requests (:func:`curl_example`).
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bot.offline.demo_setup import (
    CHANNEL,
    TEAM,
    load_demo_accounts,
    local_settings,
    serve_sandbox,
    serve_standin,
)
from bot.offline.standin import SlackDriver, SlackStandIn
from bot.offline.standin.serving import RunningServer, bind_loopback_socket, serve_asgi
from bot.runtime.db import database_errors
from bot.runtime.wiring import build_runtime

#: Only the local stand-in and this process know it; printed for hand-made curl requests.
DEV_SIGNING_SECRET = "seatbot-dev-signing-secret"  # noqa: S105 - a local development value


@dataclass
class DevServers:
    """What ``seatbot dev`` runs, and how to reach it."""

    app_url: str
    standin_url: str
    sandbox_url: str
    database_url: str
    standin: SlackStandIn
    driver: SlackDriver


def curl_example(servers: DevServers, user_id: str) -> str:
    """Shell lines that send ``/seats status`` to the app, signed as Slack signs it, then wait
    (up to 10 s) for the reply the app sends after its ack and print it."""
    mint = (
        f"curl -s -X POST {servers.standin_url}/_standin/response_urls "
        f"-H 'Content-Type: application/json' -d '{{\"channel\": \"{CHANNEL}\"}}' "
        "| python3 -c 'import json, sys; print(json.load(sys.stdin)[\"response_url\"])'"
    )
    return "\n".join(
        [
            f"url=$({mint})",
            f'body="team_id={TEAM}&user_id={user_id}&channel_id={CHANNEL}'
            f'&command=%2Fseats&text=status&response_url=$url&trigger_id=dev.1"',
            "ts=$(date +%s)",
            'sig="v0=$(printf \'v0:%s:%s\' "$ts" "$body" | openssl dgst -sha256 '
            f"-hmac '{DEV_SIGNING_SECRET}' | sed 's/^.* //')\"",
            f'curl -s {servers.app_url}/slack/events -H "X-Slack-Request-Timestamp: $ts" '
            '-H "X-Slack-Signature: $sig" --data "$body"',
            "# The app answers Slack at once (the ack), then posts its reply to the response URL:",
            "for _ in $(seq 100); do",
            f"  reply=$(curl -s '{servers.standin_url}/_standin/calls?method=response_url')",
            '  case "$reply" in *"${url##*/}"*) break ;; esac; sleep 0.1',
            "done",
            'echo "$reply"   # what the app sent to Slack',
        ]
    )


@contextlib.asynccontextmanager
async def dev_servers(
    database: Path, *, host: str = "127.0.0.1", port: int = 0
) -> AsyncIterator[DevServers]:
    """Start the sandbox, the stand-in and the app (on ``host:port``; 0 picks a free port),
    with the example accounts loaded into the SQLite file ``database``; stop them on exit. The
    app's port is bound first: a busy one fails before the database is made."""
    app_socket = bind_loopback_socket(host, port)
    sandbox_server = serve_sandbox()
    standin, standin_server = serve_standin()
    servers: list[RunningServer] = [sandbox_server, standin_server]
    sandbox_url, standin_url = sandbox_server.url, standin_server.url
    database_url = f"sqlite:///{database}"
    try:
        with tempfile.TemporaryDirectory(prefix="seatbot-dev-") as tmp:
            with database_errors(database_url):
                await asyncio.to_thread(
                    load_demo_accounts, Path(tmp), sandbox_url, database_url, datetime.now(UTC)
                )
            runtime = build_runtime(local_settings(database_url, standin_url, DEV_SIGNING_SECRET))
            app_server = serve_asgi(runtime.asgi_app, host, sock=app_socket)
            servers.append(app_server)
            async with SlackDriver(
                app_server.url, DEV_SIGNING_SECRET, standin_url=standin_url, team_id=TEAM
            ) as driver:
                try:
                    yield DevServers(
                        app_server.url, standin_url, sandbox_url, database_url, standin, driver
                    )
                finally:
                    await runtime.platforms.aclose()
                    if runtime.responses is not None:
                        await runtime.responses.aclose()
                    runtime.engine.dispose()
    finally:
        for server in reversed(servers):
            await server.stop()
        app_socket.close()
