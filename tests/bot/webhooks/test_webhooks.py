"""One delivery attempt (signed as Standard Webhooks sign, judged by the answer) and the
verifying receiver (what a billing system's endpoint does)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from bot.webhooks.config import Destination, new_webhook_secret
from bot.webhooks.delivery import (
    USER_AGENT,
    AttemptResult,
    ping_body,
    ping_id,
    post_event,
    signed_headers,
    webhook_client,
)
from bot.webhooks.guard import DestinationGuard
from bot.webhooks.receiver import WebhookReceiver, summary

SECRET = new_webhook_secret()
BODY = json.dumps({"type": "seat_change.applied", "timestamp": "t", "data": {"net": "30.97"}})
DESTINATION = Destination("https://billing.example.com/hooks", SECRET)


def test_the_signature_is_what_standard_webhooks_verifies() -> None:
    now = datetime.now(UTC)
    headers = signed_headers(SECRET, "msg_abc", BODY, now)
    assert headers["webhook-id"] == "msg_abc"
    assert headers["webhook-timestamp"] == str(int(now.timestamp()))
    assert headers["webhook-signature"].startswith("v1,")
    assert headers["content-type"] == "application/json"
    assert Webhook(SECRET).verify(BODY, headers) == json.loads(BODY)
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(BODY.replace("30.97", "39.97"), headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(new_webhook_secret()).verify(BODY, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(BODY, dict(headers, **{"webhook-id": "msg_other"}))


async def _public(host: str, port: int) -> list[str]:
    return ["93.184.216.34"]  # what billing.example.com resolves to, here


async def _attempt(handler: Any, timeout_s: float = 5.0) -> AttemptResult:
    transport = httpx.MockTransport(handler)
    async with webhook_client(transport) as client:
        return await post_event(
            client,
            DESTINATION,
            "msg_1",
            BODY,
            at=datetime.now(UTC),
            timeout_s=timeout_s,
            guard=DestinationGuard(resolver=_public),
        )


async def test_a_2xx_answer_is_a_delivery_of_the_stored_bytes() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204)

    result = await _attempt(handler)
    assert result.delivered is True
    [request] = seen
    assert request.content == BODY.encode()
    assert request.headers["user-agent"] == USER_AGENT
    assert Webhook(SECRET).verify(request.content, dict(request.headers)) == json.loads(BODY)


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (httpx.Response(500), "HTTP 500"),
        (httpx.Response(410), "HTTP 410"),
        (
            httpx.Response(302, headers={"location": "https://elsewhere/"}),
            "HTTP 302 (redirects are not followed)",
        ),
    ],
)
async def test_any_other_answer_is_a_failed_attempt(answer: httpx.Response, error: str) -> None:
    result = await _attempt(lambda request: answer)
    assert result.delivered is False
    assert result.error == error
    assert result.status_code == answer.status_code


async def test_no_connection_and_no_answer_in_time_are_failed_attempts() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    refused = await _attempt(refuse)
    assert refused.error == "could not connect (refused, or no such host)"

    async def dawdle(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(5)
        return httpx.Response(204)

    late = await _attempt(dawdle, timeout_s=0.2)
    assert late.delivered is False
    assert late.error == "no answer within 0.2 s"
    assert "billing.example.com" not in str(late.error)


# ---------------------------------------------------------------- the receiver


async def _post(receiver: WebhookReceiver, body: str, headers: dict[str, str]) -> int:
    transport = httpx.ASGITransport(app=receiver.asgi_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://receiver") as client:
        return (await client.post("/hooks", content=body.encode(), headers=headers)).status_code


async def test_the_receiver_verifies_records_and_marks_repeats() -> None:
    receiver = WebhookReceiver(SECRET)
    headers = signed_headers(SECRET, "msg_1", BODY, datetime.now(UTC))
    assert await _post(receiver, BODY, headers) == 204
    assert await _post(receiver, BODY, headers) == 204  # a retry: same webhook-id
    first, again = await receiver.wait_for(2, within_s=1)
    assert (first.duplicate, again.duplicate) == (False, True)
    assert first.document == json.loads(BODY)
    assert receiver.unique_ids == {"msg_1"}
    assert summary(first) == "seat_change.applied · msg_1 · net 30.97"
    assert summary(again).endswith("(again: same webhook-id)")


async def test_the_receiver_refuses_what_does_not_verify() -> None:
    receiver = WebhookReceiver(SECRET)
    now = datetime.now(UTC)
    headers = signed_headers(SECRET, "msg_1", BODY, now)
    tampered = BODY.replace("30.97", "0.01")
    assert await _post(receiver, tampered, headers) == 400
    assert await _post(receiver, BODY, {"content-type": "application/json"}) == 400
    stale = signed_headers(SECRET, "msg_1", BODY, now - timedelta(minutes=6))
    assert await _post(receiver, BODY, stale) == 400
    other = signed_headers(new_webhook_secret(), "msg_1", BODY, now)
    assert await _post(receiver, BODY, other) == 400
    garbled = dict(headers, **{"webhook-signature": "nonsense"})
    assert await _post(receiver, BODY, garbled) == 400
    assert receiver.events == []
    assert len(receiver.rejected) == 5
    with pytest.raises(TimeoutError):
        await receiver.wait_for(1, within_s=0.05)


async def test_a_ping_is_an_event_the_receiver_accepts() -> None:
    receiver = WebhookReceiver(SECRET)
    now = datetime.now(UTC)
    body = ping_body("acme", now)
    identifier = ping_id()
    assert await _post(receiver, body, signed_headers(SECRET, identifier, body, now)) == 204
    [event] = receiver.events
    assert (event.event_type, event.data["account"], event.webhook_id) == (
        "ping",
        "acme",
        identifier,
    )
