"""A billing system for the end-to-end tests: the verifying receiver (``bot.webhooks.receiver``)
behind a switchboard of faults, served on a loopback port that may be closed (connection
refused) and opened later.

Faults are taken one per request, in order: ``"500"`` answers 500 without looking;
``"hang"`` answers nothing for ``hang_s`` seconds (past the sender's deadline), then 500;
``"block"`` lets the receiver verify and record the request, then withholds its answer until
:meth:`FlakyReceiver.unblock` (the crash test kills the sender meanwhile). Every request is
also kept raw (:attr:`FlakyReceiver.raw`), for replaying it tampered.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.offline.standin.slack_api import RunningServer, serve_asgi
from bot.webhooks.receiver import WebhookReceiver

PATH = "/hooks/seatbot"


@dataclass
class RawRequest:
    headers: dict[str, str]
    body: bytes
    query: str = ""


@dataclass
class FlakyReceiver:
    secret: str
    hang_s: float = 3.0
    faults: list[str] = field(default_factory=list)
    raw: list[RawRequest] = field(default_factory=list)
    answered: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.receiver = WebhookReceiver(self.secret)
        self.blocked = asyncio.Event()
        self._release = asyncio.Event()
        self.app = Starlette(routes=[Route("/{path:path}", self._handle, methods=["POST"])])

    def unblock(self) -> None:
        self._release.set()

    async def _handle(self, request: Request) -> Response:
        body = await request.body()
        headers = {name: request.headers[name] for name in request.headers}
        self.raw.append(RawRequest(headers, body, request.url.query))
        fault = self.faults.pop(0) if self.faults else None
        if fault == "500":
            return self._answer(500)
        if fault == "hang":
            await asyncio.sleep(self.hang_s)
            return self._answer(500)
        status = await self.forward(body, headers)
        if fault == "block":
            self.blocked.set()
            await self._release.wait()
        return self._answer(status)

    def _answer(self, status: int) -> Response:
        self.answered.append(status)
        return Response(status_code=status)

    async def forward(self, body: bytes, headers: dict[str, str]) -> int:
        """Hand a request to the verifying receiver; its answer's status."""
        headers = {k: v for k, v in headers.items() if k not in {"content-length", "host"}}
        transport = httpx.ASGITransport(app=self.receiver.asgi_app)
        async with httpx.AsyncClient(transport=transport, base_url="http://receiver") as client:
            answer = await client.post(PATH, content=body, headers=headers)
        return answer.status_code


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ReceiverServer:
    """Serves a :class:`FlakyReceiver` on a fixed loopback port, or not (refused)."""

    def __init__(self, receiver: FlakyReceiver) -> None:
        self.receiver = receiver
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}{PATH}"
        self._running: RunningServer | None = None

    def open(self) -> None:
        if self._running is None:
            self._running = serve_asgi(self.receiver.app, port=self.port)

    async def close(self) -> None:
        running, self._running = self._running, None
        if running is not None:
            await running.stop()


async def eventually(
    condition: Callable[[], bool] | Callable[[], Awaitable[bool]],
    *,
    within_s: float = 30.0,
    what: str = "the condition",
) -> None:
    """Wait until ``condition()`` holds, polling; :class:`TimeoutError` naming ``what``."""
    deadline = time.monotonic() + within_s
    while True:
        outcome = condition()
        if isinstance(outcome, Awaitable):
            outcome = await outcome
        if outcome:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} did not happen within {within_s:g} s")
        await asyncio.sleep(0.05)
