"""A tiny receiver that verifies Standard Webhooks signatures: ``seatbot webhooks listen``,
the demo, and the tests.

It is what a billing system's endpoint must do, in a few lines: verify the signature over the
raw body with the shared secret (``standardwebhooks``' ``Webhook.verify``, which also refuses a
``webhook-timestamp`` more than five minutes off), answer 2xx quickly, and deduplicate on
``webhook-id``, since an event may arrive more than once (a retry after a lost answer).
A request that does not verify gets 400 and is not recorded.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

MAX_BODY_BYTES = 1024 * 1024


@dataclass(frozen=True)
class ReceivedEvent:
    """A verified delivery: its ``webhook-id``, the raw body, the parsed document, and whether
    the same ``webhook-id`` arrived before (``duplicate``)."""

    webhook_id: str
    timestamp: str
    body: bytes
    document: dict[str, Any]
    duplicate: bool

    @property
    def event_type(self) -> str:
        return str(self.document.get("type", "?"))

    @property
    def data(self) -> dict[str, Any]:
        data = self.document.get("data")
        return data if isinstance(data, dict) else {}


class WebhookReceiver:
    """The receiver as an ASGI app (:attr:`asgi_app`, any path, ``POST``). ``on_event`` is
    called with each verified delivery, ``on_rejected`` with the reason for each refused one.
    :attr:`events` keeps every verified delivery in order, duplicates included."""

    def __init__(
        self,
        secret: str,
        *,
        on_event: Callable[[ReceivedEvent], None] | None = None,
        on_rejected: Callable[[str], None] | None = None,
    ) -> None:
        self._webhook = Webhook(secret)
        self._on_event = on_event
        self._on_rejected = on_rejected
        self.events: list[ReceivedEvent] = []
        self.rejected: list[str] = []
        self._seen: set[str] = set()
        self._arrived = asyncio.Condition()
        self.asgi_app = Starlette(
            routes=[Route("/{path:path}", self._receive, methods=["POST"])],
        )

    @property
    def unique_ids(self) -> set[str]:
        """Every ``webhook-id`` received."""
        return set(self._seen)

    async def _receive(self, request: Request) -> Response:
        body = await request.body()
        if len(body) > MAX_BODY_BYTES:
            return await self._reject("the body is larger than 1 MiB", 413)
        headers = {name: request.headers[name] for name in request.headers}
        try:
            document = self._webhook.verify(body, headers)
        except WebhookVerificationError as error:
            return await self._reject(f"not verified: {error}", 400)
        except (ValueError, UnicodeDecodeError) as error:
            return await self._reject(f"not verified: malformed ({type(error).__name__})", 400)
        if not isinstance(document, dict):
            return await self._reject("not an event: the body is not a JSON object", 400)
        webhook_id = request.headers["webhook-id"]
        received = ReceivedEvent(
            webhook_id,
            request.headers["webhook-timestamp"],
            body,
            document,
            duplicate=webhook_id in self._seen,
        )
        self._seen.add(webhook_id)
        self.events.append(received)
        if self._on_event is not None:
            self._on_event(received)
        async with self._arrived:
            self._arrived.notify_all()
        return Response(status_code=204)

    async def _reject(self, reason: str, status: int) -> Response:
        self.rejected.append(reason)
        if self._on_rejected is not None:
            self._on_rejected(reason)
        async with self._arrived:
            self._arrived.notify_all()
        return JSONResponse({"error": reason}, status_code=status)

    async def wait_for(
        self,
        count: int,
        *,
        within_s: float = 10.0,
        where: Callable[[ReceivedEvent], bool] | None = None,
    ) -> list[ReceivedEvent]:
        """Wait until ``count`` verified deliveries (matching ``where``) arrived; the matching
        ones, in order. :class:`TimeoutError` after ``within_s`` seconds."""
        deadline = time.monotonic() + within_s

        def matching() -> list[ReceivedEvent]:
            return [e for e in self.events if where is None or where(e)]

        async with self._arrived:
            while len(matching()) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(
                        f"{len(matching())} of {count} webhook deliveries within {within_s:g} s"
                    )
                try:
                    await asyncio.wait_for(self._arrived.wait(), left)
                except TimeoutError:
                    continue
            return matching()


def summary(event: ReceivedEvent) -> str:
    """One line about a verified event, for people."""
    data = event.data
    parts = [event.event_type, event.webhook_id]
    for key in ("account", "product"):
        if data.get(key):
            parts.append(str(data[key]))
    if "from_seats" in data and "to_seats" in data:
        parts.append(f"{data['from_seats']} → {data['to_seats']} seats")
    if "seats" in data and "from_seats" not in data:
        parts.append(f"{data['seats']} seats")
    for key in ("net", "amount"):
        if key in data:
            parts.append(f"{key} {data[key]} {data.get('currency', '')}".rstrip())
    if event.duplicate:
        parts.append("(again: same webhook-id)")
    return " · ".join(parts)


def pretty(event: ReceivedEvent) -> str:
    """The event's JSON, indented."""
    return json.dumps(event.document, indent=2, ensure_ascii=False)
