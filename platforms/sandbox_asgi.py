"""The little ASGI the sandbox needs, without a framework: reading a request body, sending one
response, answering the lifespan protocol."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_JSON_HEADER = (b"content-type", b"application/json")


def json_bytes(data: object) -> bytes:
    """``data`` as compact UTF-8 JSON."""
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass(frozen=True)
class Response:
    """One HTTP response: status, body and headers (``content-length`` is added on sending)."""

    status: int
    body: bytes = b""
    headers: tuple[tuple[bytes, bytes], ...] = ()

    @classmethod
    def of_json(cls, status: int, data: object) -> Response:
        """A JSON response."""
        return cls(status, json_bytes(data), (_JSON_HEADER,))

    @classmethod
    def raw_json(cls, status: int, body: bytes) -> Response:
        """A response whose body is already JSON (or, for a fault, meant to look like it)."""
        return cls(status, body, (_JSON_HEADER,))

    @classmethod
    def error(cls, status: int, message: str) -> Response:
        """``{"error": message}`` with ``status``."""
        return cls.of_json(status, {"error": message})

    async def send(self, send: Send) -> None:
        """Send this response on an ASGI ``http`` connection."""
        headers = [*self.headers, (b"content-length", str(len(self.body)).encode())]
        await send({"type": "http.response.start", "status": self.status, "headers": headers})
        await send({"type": "http.response.body", "body": self.body})


async def read_body(receive: Receive) -> bytes:
    """The whole request body."""
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


async def run_lifespan(receive: Receive, send: Send) -> None:
    """Acknowledge start-up and shut-down (the sandbox has nothing to set up)."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
