"""Bounds on reading a request body: its size, and the time the client takes to send it.

uvicorn reads a request's headers (within a deadline: :mod:`bot.web.connection_limits`) and then
hands the body to the app as it arrives, with no deadline: a client that sends headers and then
one byte a second holds a connection (and a task) for as long as it likes.
:class:`RequestBodyLimits` wraps the app's ``receive``:

* a body declared (``Content-Length``) or found larger than ``max_body_bytes`` gets 413 without
  being read (a chunked body is read up to the limit, plus at most one chunk);
* a body not complete ``deadline_s`` seconds after the request arrived gets 408;
* a client that disconnects mid-body is one INFO line (Starlette raises ``ClientDisconnect``,
  which would otherwise reach uvicorn and be logged as an ERROR with a traceback);
* a response that starts before the body was read in full says ``Connection: close``, so
  uvicorn closes the connection after it instead of waiting for the rest of the body.

Log lines name the method and path, never the query string or the body.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Final

from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from billing.errors import SeatbotError

logger = logging.getLogger(__name__)

BODY_DEADLINE_SECONDS: Final = 10.0  # Slack sends its few kilobytes at once


class _BodyTooLarge(SeatbotError):
    pass


class _BodyTooSlow(SeatbotError):
    pass


class RequestBodyLimits:
    """ASGI middleware: see the module docstring. Install it inside Starlette's error
    middleware (``Starlette(middleware=[Middleware(RequestBodyLimits, ...)])``) so that its
    own answers are not turned into 500s first."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        deadline_s: float = BODY_DEADLINE_SECONDS,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.deadline_s = deadline_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = f"{scope['method']} {scope['path']}"
        declared = _declared_length(scope)
        if declared is not None and declared > self.max_body_bytes:
            logger.warning(
                "Refused %s: its body (%d bytes) is over the %d-byte limit",
                request,
                declared,
                self.max_body_bytes,
            )
            await _refuse(send, 413, "request body too large")
            return
        deadline = asyncio.get_running_loop().time() + self.deadline_s
        received = 0
        body_complete = declared == 0 or (declared is None and not _chunked(scope))
        response_started = False

        async def receive_within_limits() -> Message:
            nonlocal received, body_complete
            if body_complete:  # later receives wait for a disconnect: no deadline on those
                return await receive()
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                raise _BodyTooSlow from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise _BodyTooLarge
                body_complete = not message.get("more_body", False)
            return message

        async def send_closing_if_unread(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
                if not body_complete:  # else uvicorn keeps the connection for the rest of it
                    message["headers"] = [*message.get("headers", []), (b"connection", b"close")]
            await send(message)

        try:
            await self.app(scope, receive_within_limits, send_closing_if_unread)
        except _BodyTooLarge:
            logger.warning(
                "Refused %s: its body is over the %d-byte limit", request, self.max_body_bytes
            )
            if not response_started:
                await _refuse(send, 413, "request body too large")
        except _BodyTooSlow:
            logger.warning(
                "Refused %s: its body did not arrive within %g s", request, self.deadline_s
            )
            if not response_started:
                await _refuse(send, 408, "request body not received in time")
        except ClientDisconnect:
            logger.info("The client disconnected before sending all of %s", request)


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # h11 refuses such a request before it reaches the app
    return None


def _chunked(scope: Scope) -> bool:
    return any(name == b"transfer-encoding" for name, _ in scope["headers"])


async def _refuse(send: Send, status: int, error: str) -> None:
    body = json.dumps({"error": error}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
