"""uvicorn for ``seatbot serve`` (``bot.web.server``): its configuration, and a real process
that migrates, then answers signed requests."""

from __future__ import annotations

import asyncio
import os
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from deploy_harness import listening_port
from starlette.applications import Starlette
from uvicorn.protocols.http.h11_impl import H11Protocol

from bot.offline.standin import SlackDriver, SlackStandIn, StandInServer, start_standin
from bot.web.server import KEEP_ALIVE_SECONDS, MAX_HEADER_BYTES, bind_port, uvicorn_config

SIGNING_SECRET = "server-test-signing-secret"
BOT_TOKEN = "xoxb-server-test-000-token"


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
def serve_process(
    tmp_path: Path, standin: StandInServer
) -> Iterator[tuple[subprocess.Popen[bytes], Path, Path]]:
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
            [sys.executable, "-c", _LAUNCHER, "serve", "--host", "127.0.0.1", "--port", "0"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            yield process, database, log_path
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
    serve_process: tuple[subprocess.Popen[bytes], Path, Path], standin: StandInServer
) -> None:
    process, database, log_path = serve_process
    url = f"http://127.0.0.1:{await asyncio.to_thread(listening_port, process, log_path)}"
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
    assert "/seats add" in answered.text  # the help is the ack itself
    assert standin.standin.violations == []
    assert BOT_TOKEN not in log_path.read_text(encoding="utf-8", errors="replace")


async def test_connections_to_the_bound_port_send_without_waiting_for_acks() -> None:
    """Nagle's algorithm is off on every connection accepted on ``seatbot serve``'s port: an
    answer written in two parts (head, then body) is not held back for the client's delayed
    ACK (40 ms an answer on a kept-alive connection)."""
    sock = bind_port("127.0.0.1", 0)
    accepted: asyncio.Queue[int] = asyncio.Queue()

    async def on_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.put_nowait(
            writer.get_extra_info("socket").getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        )
        writer.close()

    server = await asyncio.start_server(on_connection, sock=sock)
    async with server:
        _, client = await asyncio.open_connection("127.0.0.1", sock.getsockname()[1])
        try:
            assert await asyncio.wait_for(accepted.get(), 10) != 0
        finally:
            client.close()


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
