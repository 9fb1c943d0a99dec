"""One delivery of a billing event: signed as Standard Webhooks sign it, posted with httpx.

The headers (https://www.standardwebhooks.com):

* ``webhook-id``: the event's id, the same on every retry (a receiver deduplicates on it);
* ``webhook-timestamp``: when this attempt was signed, in whole seconds since the epoch (a
  receiver refuses old ones, against replays);
* ``webhook-signature``: ``v1,`` and the base64 HMAC-SHA256 of ``id.timestamp.body`` under the
  secret (the ``standardwebhooks`` package signs, and its ``Webhook.verify`` checks).

The body is sent exactly as stored, to the address :class:`bot.webhooks.guard.DestinationGuard`
resolved and judged for this attempt. A 2xx answer is a delivery; anything else — a refused
destination (a private address without the operator's opt-in), another status (redirects are
not followed), no connection, or no complete answer within the deadline — is a failed attempt,
described in one line that never holds the URL or the secret.
"""

from __future__ import annotations

import asyncio
import math
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
from standardwebhooks.webhooks import Webhook

from billing.events import PING, event_body
from bot.runtime.logging_setup import install_url_redaction
from bot.webhooks.config import Destination
from bot.webhooks.guard import DestinationGuard, DestinationRefused

USER_AGENT = "Seatbot-Webhooks/1 (+https://www.standardwebhooks.com)"


def signed_headers(secret: str, webhook_id: str, body: str, at: datetime) -> dict[str, str]:
    """The Standard Webhooks headers for ``body`` signed with ``secret`` at ``at``."""
    signed_at = datetime.fromtimestamp(math.floor(at.timestamp()), UTC)
    return {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(signed_at.timestamp())),
        "webhook-signature": Webhook(secret).sign(webhook_id, signed_at, body),
    }


def webhook_client(transport: httpx.AsyncBaseTransport | None = None) -> httpx.AsyncClient:
    """The HTTP client of deliveries (``transport``: tests' stand-in). Redirects are not
    followed; no proxy or ``.netrc`` from the environment, so the address the guard judged is
    the one connected; no connection is kept alive, so one made for a host name's certificate
    is never reused for another name on the same address. httpx's request log lines show the
    URL redacted (:func:`bot.runtime.logging_setup.install_url_redaction`)."""
    install_url_redaction()
    return httpx.AsyncClient(
        transport=transport
        or httpx.AsyncHTTPTransport(limits=httpx.Limits(max_keepalive_connections=0)),
        follow_redirects=False,
        trust_env=False,
    )


@dataclass(frozen=True)
class AttemptResult:
    """How one attempt went: ``delivered`` on a 2xx answer; otherwise ``error`` says why in one
    line. ``status_code`` when the receiver answered; ``elapsed_s`` wall time."""

    delivered: bool
    status_code: int | None
    error: str | None
    elapsed_s: float


async def post_event(
    client: httpx.AsyncClient,
    destination: Destination,
    webhook_id: str,
    body: str,
    *,
    at: datetime,
    timeout_s: float,
    guard: DestinationGuard,
) -> AttemptResult:
    """POST ``body`` to ``destination`` signed at ``at``, where ``guard`` lets it go; the whole
    attempt (resolving, connecting, sending, the answer) must finish within ``timeout_s``
    seconds."""
    headers = signed_headers(destination.secret, webhook_id, body, at)
    started = time.monotonic()

    def result(status: int | None, error: str | None) -> AttemptResult:
        return AttemptResult(error is None, status, error, time.monotonic() - started)

    try:
        async with asyncio.timeout(timeout_s):
            pinned = await guard.pin(destination)
            response = await client.post(
                pinned.url,
                content=body.encode(),
                headers=headers | pinned.headers,
                extensions=pinned.extensions,
                timeout=timeout_s,
            )
    except DestinationRefused as refused:
        return result(None, str(refused))
    except (TimeoutError, httpx.TimeoutException):
        return result(None, f"no answer within {timeout_s:g} s")
    except (httpx.ConnectError, OSError):  # OSError: the host name does not resolve
        return result(None, "could not connect (refused, or no such host)")
    except httpx.HTTPError as error:
        return result(None, f"the connection failed ({type(error).__name__})")
    status = response.status_code
    if 200 <= status < 300:
        return result(status, None)
    if 300 <= status < 400:
        return result(status, f"HTTP {status} (redirects are not followed)")
    return result(status, f"HTTP {status}")


def ping_body(account: str, at: datetime) -> str:
    """The body of ``seatbot webhooks test``'s ``ping`` event."""
    return event_body(
        PING, at, {"account": account, "message": "A test event from `seatbot webhooks test`."}
    )


def ping_id() -> str:
    """A fresh ``webhook-id`` for a ping (pings are not stored, so not retried)."""
    return "msg_ping_" + secrets.token_hex(12)
