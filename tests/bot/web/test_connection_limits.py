"""Connection limits of ``seatbot serve`` (:mod:`bot.web.connection_limits`) on a real uvicorn
server in this event loop, with raw sockets as clients: first-byte and request-head deadlines, and a
full server making room by closing the connection that waited longest for its request."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
from collections.abc import AsyncIterator

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from bot.offline.standin.serving import serve_uvicorn
from bot.web.connection_limits import ConnectionLimits
from bot.web.server import uvicorn_config

WITHIN_S = 10.0  # deadline for what must happen (generous: the machine may be loaded)
Stream = tuple[asyncio.StreamReader, asyncio.StreamWriter]


class App:
    """``GET /ok``; ``GET /wait`` answers once :attr:`release` is set; ``POST /body`` reads its
    body. The last two put their path in :attr:`entered` as they start."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.entered: asyncio.Queue[str] = asyncio.Queue()

    async def ok(self, request: Request) -> Response:
        return PlainTextResponse("ok")

    async def wait(self, request: Request) -> Response:
        self.entered.put_nowait(request.url.path)
        await self.release.wait()
        return PlainTextResponse("released")

    async def body(self, request: Request) -> Response:
        self.entered.put_nowait(request.url.path)
        return PlainTextResponse(f"{len(await request.body())} bytes")

    async def wait_entered(self, count: int) -> None:
        async with asyncio.timeout(WITHIN_S):
            for _ in range(count):
                await self.entered.get()

    def asgi(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/ok", self.ok),
                Route("/wait", self.wait),
                Route("/body", self.body, methods=["POST"]),
            ]
        )


class Clients:
    """Raw client connections to ``port``, all closed at the end of the test."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.writers: list[asyncio.StreamWriter] = []

    async def connect(self, sending: bytes = b"") -> Stream:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        self.writers.append(writer)
        writer.write(sending)
        return reader, writer

    def close(self) -> None:
        for writer in self.writers:
            writer.close()


@contextlib.asynccontextmanager
async def serving(
    app: App, limits: ConnectionLimits, *, keep_alive_s: float = 60.0
) -> AsyncIterator[tuple[Clients, list[str]]]:
    """``app`` served as ``seatbot serve`` serves (:func:`bot.web.server.uvicorn_config`) with
    ``limits`` and a keep-alive of ``keep_alive_s``: clients of it, and the reasons of each
    connection the limits closed, in order."""
    closed: list[str] = []
    config = uvicorn_config(
        app.asgi(), host="127.0.0.1", port=0, graceful_s=1, limits=limits, on_close=closed.append
    )
    config.timeout_keep_alive = keep_alive_s  # seatbot serve's 5 s, shorter for the test
    running = serve_uvicorn(config)
    clients = Clients(running.port)
    try:
        yield clients, closed
    finally:
        clients.close()
        await running.stop()


async def closed_by_server(stream: Stream) -> bytes:
    """Everything the server sends until it closes the connection (within :data:`WITHIN_S`)."""
    async with asyncio.timeout(WITHIN_S):
        return await stream[0].read()


async def answer(stream: Stream, request: bytes = b"") -> bytes:
    """Send (the rest of) ``request`` on ``stream``; the status line of the answer."""
    reader, writer = stream
    writer.write(request)
    async with asyncio.timeout(WITHIN_S):
        return (await reader.readline()).strip()


GET_OK = b"GET /ok HTTP/1.1\r\nHost: seatbot\r\n\r\n"
OK = b"HTTP/1.1 200 OK"


async def test_a_new_connection_that_sends_nothing_is_closed_after_the_keep_alive_time() -> None:
    limits = ConnectionLimits(header_timeout_s=60)
    async with serving(App(), limits, keep_alive_s=1.0) as (clients, closed):
        assert await closed_by_server(await clients.connect()) == b""
        # One that asks in time is answered.
        assert await answer(await clients.connect(), GET_OK) == OK
        assert closed == []  # the keep-alive timer closed it, as after a response


async def test_a_request_head_not_complete_in_time_is_closed_whatever_it_sends() -> None:
    async with serving(App(), ConnectionLimits(header_timeout_s=0.5)) as (clients, closed):
        reader, writer = await clients.connect()
        slow = asyncio.create_task(dribble(writer, b"GET /ok HTTP/1.1\r\n" + b"X-Slow: 1\r\n" * 50))
        assert await closed_by_server((reader, writer)) == b""
        slow.cancel()
        assert closed == ["header_timeout"]
        # A keep-alive connection's next head has the same deadline, from the response on.
        kept = await clients.connect()
        assert await answer(kept, GET_OK) == OK
        assert (await closed_by_server(kept)).endswith(b"\r\n\r\nok")  # then closed
        assert closed == ["header_timeout", "header_timeout"]


async def dribble(writer: asyncio.StreamWriter, data: bytes) -> None:
    """Send ``data`` a byte every 50 ms, as a slow client does."""
    for byte in data:
        writer.write(bytes([byte]))
        await asyncio.sleep(0.05)


async def test_a_full_server_closes_the_connections_that_waited_longest_for_a_request() -> None:
    app = App()
    async with serving(app, ConnectionLimits(max_connections=3)) as (clients, closed):
        head = await clients.connect(b"GET /ok HT")
        body = await clients.connect(
            b"POST /body HTTP/1.1\r\nHost: s\r\nContent-Length: 4\r\n\r\nab"
        )
        await app.wait_entered(1)  # its head is in, its body incomplete
        idle = await clients.connect()
        # Each newcomer is read: the connection that waited longest made room for it.
        assert await answer(await clients.connect(), GET_OK) == OK
        assert await closed_by_server(head) == b""
        assert await answer(await clients.connect(), GET_OK) == OK
        assert await closed_by_server(body) == b""
        assert closed == ["over_capacity", "over_capacity"]
        # The one that came later is still served.
        assert await answer(idle, GET_OK) == OK


async def test_requests_being_answered_are_never_closed_to_make_room() -> None:
    app = App()
    async with serving(app, ConnectionLimits(max_connections=2)) as (clients, closed):
        busy = [await clients.connect(b"GET /wait HTTP/1.1\r\nHost: s\r\n\r\n") for _ in range(2)]
        await app.wait_entered(2)
        # Every connection is answering a request: the newcomer is the one closed.
        assert await closed_by_server(await clients.connect()) == b""
        assert closed == ["over_capacity"]
        app.release.set()
        assert [await answer(stream) for stream in busy] == [OK, OK]


_FIT = """
import resource, sys
from bot.web.connection_limits import connections_that_fit
soft, hard = map(int, sys.argv[1:3])
resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
fits = connections_that_fit(1000)
print(fits, resource.getrlimit(resource.RLIMIT_NOFILE)[0])
"""


@pytest.mark.slow  # each case runs in its own process (it changes the process's limit)
@pytest.mark.parametrize(
    ("soft", "hard", "fits", "soft_after"),
    [
        (300, 2000, 1000, 2000),  # raised to the hard limit
        (1500, 2000, 1000, 1500),  # enough already: left alone
        (300, 700, 444, 700),  # the hard limit is too low: fewer connections, and a warning
    ],
)
def test_the_limit_on_open_files_is_raised_to_hold_the_connections(
    soft: int, hard: int, fits: int, soft_after: int
) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _FIT, str(soft), str(hard)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.split() == [str(fits), str(soft_after)]
    assert ("does not fit in the limit on open files" in done.stderr) == (fits < 1000)
