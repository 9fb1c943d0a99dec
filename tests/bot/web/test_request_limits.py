"""Request bodies are bounded in size and in time, and a client that leaves mid-body is one
INFO line: the edge app on a real uvicorn server, spoken to over a raw socket."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from pydantic import SecretStr
from slack_bolt.async_app import AsyncApp
from sqlalchemy.orm import sessionmaker
from starlette.applications import Starlette

from billing.approvals.service import Approvals
from billing.seats.reads import AccountReads
from billing.seats.service import SeatChanges
from bot.offline.standin.slack_api import RunningServer, serve_asgi
from bot.offline.standin.slack_driver import sign_request
from bot.runtime.settings import Settings
from bot.web.asgi import build_asgi_app
from bot.web.bolt_app import build_app
from handlers.deps import HandlerDeps

SIGNING_SECRET = "limits-signing-secret-0123456789"
BOT_TOKEN = "xoxb-limits-1234-5678-abcdefgh"
WAIT_S = 10.0  # how long the test client waits for the server's answer (not a timing claim)


def deps() -> HandlerDeps:
    return HandlerDeps(
        account_reads=AccountReads(sessionmaker()),
        approvals=Approvals(sessionmaker()),
        seat_changes=SeatChanges(sessionmaker()),
        platform_for=lambda account_id, product: None,
        clock=lambda: datetime.now(UTC),
    )


def no_listeners(app: AsyncApp, deps: HandlerDeps) -> None:
    """Registers nothing."""


def edge_app(**limits: float) -> Starlette:
    settings = Settings(
        slack_signing_secret=SecretStr(SIGNING_SECRET),
        slack_bot_token=SecretStr(BOT_TOKEN),
        slack_api_url="http://127.0.0.1:9/api/",
    )
    bolt_app = build_app(settings, deps(), register=no_listeners)
    return build_asgi_app(bolt_app, signing_secret=SIGNING_SECRET, **limits)  # type: ignore[arg-type]


@contextlib.asynccontextmanager
async def serving(app: Starlette) -> AsyncIterator[RunningServer]:
    running = serve_asgi(app)
    try:
        yield running
    finally:
        await running.stop()


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes


async def read_response(reader: asyncio.StreamReader) -> RawResponse:
    async with asyncio.timeout(WAIT_S):
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            if line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        body = await reader.readexactly(int(headers.get("content-length", "0")))
    return RawResponse(status, headers, body)


async def closed_by_server(reader: asyncio.StreamReader) -> bool:
    async with asyncio.timeout(WAIT_S):
        try:
            return await reader.read(1) == b""
        except ConnectionResetError:  # closed while the client was still sending
            return True


def post_head(length: int | None, *, path: str = "/slack/events", chunked: bool = False) -> bytes:
    lines = [
        f"POST {path} HTTP/1.1",
        "Host: seatbot",
        "Content-Type: application/x-www-form-urlencoded",
    ]
    lines += [f"{k}: {v}" for k, v in sign_request("", SIGNING_SECRET, 0).items()]
    if chunked:
        lines.append("Transfer-Encoding: chunked")
    if length is not None:
        lines.append(f"Content-Length: {length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


@contextlib.asynccontextmanager
async def connection(
    running: RunningServer,
) -> AsyncIterator[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
    reader, writer = await asyncio.open_connection("127.0.0.1", running.port)
    try:
        yield reader, writer
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


async def until(condition: Callable[[], bool], within_s: float = WAIT_S) -> None:
    async with asyncio.timeout(within_s):
        while True:
            if condition():
                return
            await asyncio.sleep(0.01)


async def test_a_declared_body_over_the_limit_is_refused_without_reading_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    async with serving(edge_app(max_body_bytes=1000)) as running, connection(running) as (r, w):
        w.write(post_head(1001))  # and not one byte of body
        await w.drain()
        response = await read_response(r)
        assert response.status == 413
        assert json.loads(response.body) == {"error": "request body too large"}
        assert response.headers["connection"] == "close"
        assert await closed_by_server(r)
    refused = [rec for rec in caplog.records if rec.levelno == logging.WARNING]
    assert len(refused) == 1
    assert "1000" in refused[0].getMessage()


async def test_a_chunked_body_over_the_limit_is_refused() -> None:
    async with serving(edge_app(max_body_bytes=1000)) as running, connection(running) as (r, w):
        w.write(post_head(None, chunked=True))
        chunk = b"a" * 400
        for _ in range(3):  # 1200 bytes in all
            w.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
        await w.drain()
        response = await read_response(r)
        assert response.status == 413
        assert await closed_by_server(r)


async def test_a_body_dribbled_too_slowly_gets_408_and_the_connection_is_closed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    async with serving(edge_app(body_deadline_s=0.3)) as running, connection(running) as (r, w):
        w.write(post_head(1000))
        await w.drain()

        async def dribble() -> None:  # one byte at a time, never finishing in the test's time
            for _ in range(1000):
                w.write(b"a")
                await w.drain()
                await asyncio.sleep(0.05)

        dribbler = asyncio.create_task(dribble())
        try:
            response = await read_response(r)
            assert response.status == 408
            assert response.headers["connection"] == "close"
            assert await closed_by_server(r)
        finally:
            dribbler.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                await dribbler
    assert [rec for rec in caplog.records if rec.exc_info or rec.levelno >= logging.ERROR] == []


async def test_a_client_leaving_mid_body_is_one_info_line_without_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    async with serving(edge_app()) as running:
        async with connection(running) as (_, w):
            w.write(post_head(100) + b"command=%2Fseats")
            await w.drain()
            await until(lambda: bool(running.server.server_state.tasks))  # the app has it
        await until(lambda: any("disconnected" in rec.getMessage() for rec in caplog.records))
        await until(lambda: not running.server.server_state.tasks)
    assert [rec for rec in caplog.records if rec.exc_info or rec.levelno >= logging.ERROR] == []
    lines = [rec for rec in caplog.records if "disconnected" in rec.getMessage()]
    assert len(lines) == 1
    assert lines[0].levelno == logging.INFO


async def test_requests_without_a_body_keep_the_connection_alive() -> None:
    async with serving(edge_app()) as running, connection(running) as (r, w):
        for _ in range(2):
            w.write(b"GET /healthz HTTP/1.1\r\nHost: seatbot\r\n\r\n")
            await w.drain()
            response = await read_response(r)
            assert response.status == 200
            assert "connection" not in response.headers


async def test_a_response_before_the_body_was_read_closes_the_connection() -> None:
    """A 405 for a POST whose body the app never reads: the client can't dribble on."""
    async with serving(edge_app()) as running, connection(running) as (r, w):
        w.write(post_head(10, path="/healthz") + b"abc")
        await w.drain()
        response = await read_response(r)
        assert response.status == 405
        assert response.headers["connection"] == "close"
        assert await closed_by_server(r)


async def test_a_signed_request_is_still_answered(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    body = b"ssl_check=1&token=deprecated"
    async with serving(edge_app()) as running, connection(running) as (r, w):
        headers = sign_request(body.decode(), SIGNING_SECRET, int(datetime.now(UTC).timestamp()))
        head = [
            "POST /slack/events HTTP/1.1",
            "Host: seatbot",
            "Content-Type: application/x-www-form-urlencoded",
            f"Content-Length: {len(body)}",
            *[f"{k}: {v}" for k, v in headers.items()],
        ]
        w.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        await w.drain()
        response = await read_response(r)
        assert response.status == 200
        assert "connection" not in response.headers
