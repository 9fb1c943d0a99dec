"""The billing hand-off over HTTP: an owner's confirmed change reaches a verifying receiver as one
signed event whose lines are the ledger's; a receiver that is down, failing or too slow gets it
once it is back; a tampered body does not verify; an event that keeps failing is marked failed,
its owners are told once in Slack, and ``seatbot webhooks retry`` sends it."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from outbox_helpers import outbox_rows
from pydantic import SecretStr
from seats_stack import Stack, blocks_text, start_stack
from secret_scan import LogCollector
from sqlalchemy.orm import Session, sessionmaker
from webhook_harness import PATH, FlakyReceiver, ReceiverServer, eventually

from billing.events.rules import OutboxStatus
from billing.events.service import Outbox
from bot.webhooks.config import new_webhook_secret
from bot.webhooks.receiver import ReceivedEvent
from handlers import ids

pytestmark = pytest.mark.slow

SECRET = new_webhook_secret()
WEBHOOK_URL_TOKEN = "e2e-url-token-31b7c9d4"
TIMEOUT_S = 1.0


@contextlib.asynccontextmanager
async def hand_off(
    seed: Any,
    session_factory: sessionmaker[Session],
    db_url: str,
    *,
    schedule: str = "0.3,0.3,0.3,0.3,0.3,0.3,0.3,0.3,0.3,0.3",
    open_receiver: bool = True,
) -> AsyncIterator[tuple[Stack, ReceiverServer]]:
    """The stack with its default webhook pointing at a flaky receiver (fast retries)."""
    receiver = FlakyReceiver(SECRET, hang_s=TIMEOUT_S * 3)
    server = ReceiverServer(receiver)
    if open_receiver:
        server.open()
    settings = {
        # A secret in the query, as some receivers want: delivered, never logged (the e2e scan
        # looks for WEBHOOK_URL_TOKEN in everything the suite logged).
        "seatbot_webhook_url": f"{server.url}?token={WEBHOOK_URL_TOKEN}",
        "seatbot_webhook_allow_private": True,  # the receiver is on loopback
        "seatbot_webhook_secret": SecretStr(SECRET),
        "seatbot_webhook_timeout_seconds": TIMEOUT_S,
        "seatbot_webhook_poll_seconds": 0.2,
        "seatbot_webhook_retry_schedule": schedule,
    }
    httpx_logger = logging.getLogger("httpx")
    level = httpx_logger.level
    httpx_logger.setLevel(logging.INFO)  # its "HTTP Request: POST <url>" lines, as serve logs them
    try:
        async with start_stack(seed, session_factory, db_url, settings=settings) as stack:
            yield stack, server
    finally:
        httpx_logger.setLevel(level)
        receiver.unblock()
        await server.close()


async def confirm(stack: Stack, text: str) -> None:
    prompt = await stack.command(text)
    done = await stack.click(prompt, ids.CONFIRM_ACTION)
    assert "Done." in blocks_text(done.args)


def delivered(server: ReceiverServer) -> list[ReceivedEvent]:
    return server.receiver.receiver.events


async def test_a_confirmed_change_is_one_verified_event_with_the_ledger_lines(
    seed: Any, session_factory: sessionmaker[Session], db_url: str, e2e_logs: LogCollector
) -> None:
    async with hand_off(seed, session_factory, db_url) as (stack, server):
        await confirm(stack, "add 3 axiom")
        [event] = await server.receiver.receiver.wait_for(1, within_s=15)
        ledger = stack.service.ledger(stack.seeded.account_id)
        [request] = stack.requests()
        await eventually(
            lambda: outbox_rows(session_factory)[0].status == OutboxStatus.SENT.value,
            what="the event marked sent",
        )
    assert event.event_type == "seat_change.applied"
    data = event.data
    assert (data["account"], data["product"], data["request_id"]) == ("acme", "axiom", request.id)
    assert (data["from_seats"], data["to_seats"], data["net"], data["currency"]) == (
        10,
        13,
        "46.45",
        "USD",
    )
    assert [
        (line["kind"], line["quantity"], line["amount"], line["ledger_key"])
        for line in data["lines"]
    ] == [
        (line.kind.value, line.quantity, line.amount.to_decimal_string(), line.idempotency_key)
        for line in ledger
    ]
    [row] = outbox_rows(session_factory)
    assert (row.webhook_id, row.attempts) == (event.webhook_id, 1)
    assert event.body == row.body.encode()
    assert len(delivered(server)) == 1
    assert server.receiver.receiver.rejected == []
    # The URL's query reached the receiver; the log lines of the delivery show it redacted.
    assert [raw.query for raw in server.receiver.raw] == [f"token={WEBHOOK_URL_TOKEN}"]
    logged = "\n".join(e2e_logs.lines)
    assert f"HTTP Request: POST http://127.0.0.1:{server.port}{PATH}?token=… " in logged
    assert WEBHOOK_URL_TOKEN not in logged


async def test_a_receiver_that_is_down_failing_or_slow_gets_the_event_once_it_is_back(
    seed: Any, session_factory: sessionmaker[Session], db_url: str
) -> None:
    async with hand_off(seed, session_factory, db_url, open_receiver=False) as (stack, server):
        await confirm(stack, "add 2 axiom")

        # Down: nothing listens, connections are refused.
        def refused_twice() -> bool:
            [row] = outbox_rows(session_factory)
            return row.attempts >= 2 and row.claimed_until is None  # none in flight

        await eventually(refused_twice, what="two refused attempts")
        [row] = outbox_rows(session_factory)
        assert row.status == OutboxStatus.PENDING.value
        assert row.last_error == "could not connect (refused, or no such host)"
        assert server.receiver.raw == []
        # Back, but answering 500 once and then too slowly once; then healthy.
        server.receiver.faults.extend(["500", "hang"])
        server.open()
        [event] = await server.receiver.receiver.wait_for(1, within_s=20)
        await eventually(
            lambda: outbox_rows(session_factory)[0].status == OutboxStatus.SENT.value,
            what="the event marked sent",
        )
    [row] = outbox_rows(session_factory)
    # Two or more refused, then a 500, one that timed out, and the delivery.
    assert len(server.receiver.raw) == 3
    assert row.attempts >= 5
    assert server.receiver.answered[0] == 500
    assert server.receiver.answered.count(204) == 1
    assert len(delivered(server)) == 1
    assert event.webhook_id == row.webhook_id
    # Every attempt carried the same event: same webhook-id, same bytes.
    assert {raw.headers["webhook-id"] for raw in server.receiver.raw} == {row.webhook_id}
    assert {raw.body for raw in server.receiver.raw} == {row.body.encode()}


async def test_a_tampered_body_does_not_verify(
    seed: Any, session_factory: sessionmaker[Session], db_url: str
) -> None:
    async with hand_off(seed, session_factory, db_url) as (stack, server):
        await confirm(stack, "add 1 axiom")
        await server.receiver.receiver.wait_for(1, within_s=15)
        [original] = server.receiver.raw
        tampered = original.body.replace(b'"to_seats":11', b'"to_seats":111')
        assert tampered != original.body
        headers = {k: v for k, v in original.headers.items() if k != "content-length"}
        async with httpx.AsyncClient() as http:
            answer = await http.post(
                f"http://127.0.0.1:{server.port}{PATH}", content=tampered, headers=headers
            )
            replayed = await http.post(
                f"http://127.0.0.1:{server.port}{PATH}",
                content=original.body,
                headers=headers,
            )
    assert answer.status_code == 400
    assert server.receiver.receiver.rejected == ["not verified: No matching signature found"]
    # The untouched body still verifies: a receiver deduplicating on webhook-id sees a repeat.
    assert replayed.status_code == 204
    assert [event.duplicate for event in delivered(server)] == [False, True]


async def test_an_event_that_keeps_failing_is_failed_its_owners_told_once_then_retried(
    seed: Any, session_factory: sessionmaker[Session], db_url: str
) -> None:
    async with hand_off(seed, session_factory, db_url, schedule="0.2,0.2") as (stack, server):
        server.receiver.faults.extend(["500"] * 3)
        await confirm(stack, "add 4 axiom")
        await eventually(
            lambda: outbox_rows(session_factory)[0].status == OutboxStatus.FAILED.value,
            what="the event marked failed",
        )
        [row] = outbox_rows(session_factory)
        assert (row.attempts, row.last_error) == (3, "HTTP 500")
        [notice] = await stack.standin.wait_for(
            "chat.postMessage",
            within_s=10,
            where=lambda call: call.args.get("channel") == "U_OWNER",
        )
        text = str(notice.args["text"])
        assert "seat_change.applied" in text
        assert f"seatbot webhooks retry {row.id}" in text
        assert SECRET not in text
        assert server.url not in text
        assert delivered(server) == []

        Outbox(session_factory).retry(str(row.id), row.failed_at or row.occurred_at)
        [event] = await server.receiver.receiver.wait_for(1, within_s=15)
        await eventually(
            lambda: outbox_rows(session_factory)[0].status == OutboxStatus.SENT.value,
            what="the retried event marked sent",
        )
        # Told once: the manager, the viewer and anyone else got nothing; the owner one message.
        dms = [
            call
            for call in stack.standin.calls("chat.postMessage")
            if "billing event" in str(call.args.get("text"))
        ]
    assert [call.args["channel"] for call in dms] == ["U_OWNER"]
    assert event.webhook_id == row.webhook_id
