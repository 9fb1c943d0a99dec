"""The sender on its own: woken by its process's commits, quiet without a destination, and an
account whose secret cannot be read fails its attempts in words."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import Any

import pytest
from outbox_helpers import JAN_16, change, outbox_rows, store_webhook
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker
from webhook_urls import UNPARSABLE

from billing.events import webhook_url_problem
from billing.events.rules import OutboxStatus, RetrySchedule
from billing.events.service import FailureNotice, Outbox
from bot.offline.standin.slack_api import serve_asgi
from bot.runtime.secrets import TokenCipher
from bot.web.metrics import Metrics
from bot.webhooks.config import Destination, new_webhook_secret
from bot.webhooks.receiver import WebhookReceiver
from bot.webhooks.sender import SenderOptions, WebhookSender

SECRET = new_webhook_secret()
CIPHER = TokenCipher([TokenCipher.new_key()])


def sender(
    sessions: sessionmaker[Session],
    default: Destination | None,
    *,
    poll_s: float,
    metrics: Metrics | None = None,
) -> WebhookSender:
    return WebhookSender(
        Outbox(sessions, RetrySchedule.of_seconds([60])),
        sessions,
        CIPHER,
        default=default,
        options=SenderOptions(timeout_s=5, poll_s=poll_s),
        metrics=metrics,
    )


def sample(metrics: Metrics, line_start: str) -> float:
    """The value of the one exposition line starting with ``line_start``."""
    text = metrics.exposition(None)[0].decode()
    [line] = [line for line in text.splitlines() if line.startswith(line_start + " ")]
    return float(line.rsplit(" ", 1)[1])


async def test_deliveries_and_the_backlog_are_counted(
    session_factory: sessionmaker[Session], seed: Any
) -> None:
    acme = seed()
    change(session_factory, acme, 12)
    change(session_factory, acme, 13)
    metrics = Metrics()
    closed = Destination("http://127.0.0.1:9/closed", SECRET, True, allow_private=True)
    refused = sender(session_factory, closed, poll_s=3600, metrics=metrics)
    await refused.open()  # passes run only when the test says
    try:
        await refused.run_once()  # nothing listens on port 9: both attempts fail, retry later
    finally:
        await refused.stop()
    failed = 'seatbot_webhook_deliveries_total{outcome="failed"}'
    assert sample(metrics, failed) == 2
    assert sample(metrics, "seatbot_webhook_backlog") == 2
    with session_factory.begin() as session:  # make them due again
        for row in outbox_rows(session_factory):
            session.merge(row).next_attempt_at = row.occurred_at
    receiver = WebhookReceiver(SECRET)
    server = serve_asgi(receiver.asgi_app)
    webhooks = sender(
        session_factory,
        Destination(server.url, SECRET, True, allow_private=True),
        poll_s=3600,
        metrics=metrics,
    )
    await webhooks.start()  # its first pass starts at once; stop() waits for it to end
    try:
        await receiver.wait_for(2, within_s=30)
    finally:
        await webhooks.stop()
        await server.stop()
    assert sample(metrics, 'seatbot_webhook_deliveries_total{outcome="delivered"}') == 2
    assert sample(metrics, failed) == 2
    assert sample(metrics, "seatbot_webhook_backlog") == 0
    assert sample(metrics, "seatbot_webhook_delivery_seconds_count") == 4


async def test_a_commit_in_this_process_wakes_the_sender_at_once(
    session_factory: sessionmaker[Session], seed: Any
) -> None:
    acme = seed()
    receiver = WebhookReceiver(SECRET)
    server = serve_asgi(receiver.asgi_app)
    webhooks = sender(
        session_factory, Destination(server.url, SECRET, True, allow_private=True), poll_s=3600
    )
    await webhooks.start()
    try:
        await asyncio.sleep(0)  # the first pass finds nothing; the next is an hour away
        await asyncio.to_thread(change, session_factory, acme, 12)
        [event] = await receiver.wait_for(1, within_s=30)  # long before the hour
    finally:
        await webhooks.stop()
        await server.stop()
    [row] = outbox_rows(session_factory)
    assert event.webhook_id == row.webhook_id
    assert row.status == OutboxStatus.SENT.value


async def test_without_any_destination_events_wait_untouched(
    session_factory: sessionmaker[Session], seed: Any
) -> None:
    change(session_factory, seed(), 12)
    webhooks = sender(session_factory, None, poll_s=3600)
    await webhooks.open()  # passes run only when the test says
    try:
        assert await webhooks.run_once() is False
    finally:
        await webhooks.stop()
    [row] = outbox_rows(session_factory)
    assert (row.status, row.attempts, row.last_error) == (OutboxStatus.PENDING.value, 0, None)


async def test_a_secret_no_key_opens_fails_the_attempt_naming_the_account(
    session_factory: sessionmaker[Session], seed: Any
) -> None:
    acme = seed()
    change(session_factory, acme, 12)
    lost_key = TokenCipher([TokenCipher.new_key()])
    store_webhook(session_factory, acme.account_id, "http://127.0.0.1:9/never", SECRET, lost_key)
    webhooks = sender(session_factory, None, poll_s=3600)
    await webhooks.open()  # passes run only when the test says
    try:
        await webhooks.run_once()
    finally:
        await webhooks.stop()
    [row] = outbox_rows(session_factory)
    assert (row.status, row.attempts) == (OutboxStatus.PENDING.value, 1)
    assert row.last_error is not None
    assert row.last_error.startswith(
        "the billing webhook secret of account acme cannot be decrypted"
    )
    assert "gAAAA" not in row.last_error


class Told:
    """A notifier that records what the owners would be told."""

    def __init__(self) -> None:
        self.notices: list[FailureNotice] = []

    async def notify(self, notice: FailureNotice) -> int:
        self.notices.append(notice)
        return 1


async def fail_twice(
    session_factory: sessionmaker[Session], told: Told, default: Destination | None = None
) -> None:
    """Two passes of a sender whose schedule allows one retry, 60 s after the first attempt:
    the first attempt fails and the event waits; the second, past the retry, fails it."""
    now = [JAN_16]
    webhooks = WebhookSender(
        Outbox(session_factory, RetrySchedule.of_seconds([60])),
        session_factory,
        CIPHER,
        default=default,
        options=SenderOptions(timeout_s=5, poll_s=3600),
        notifier=told,
        clock=lambda: now[0],
    )
    await webhooks.open()  # passes run only when the test says
    try:
        await webhooks.run_once()
        [row] = outbox_rows(session_factory)
        assert (row.status, row.attempts) == (OutboxStatus.PENDING.value, 1)
        now[0] = JAN_16 + timedelta(seconds=61)
        await webhooks.run_once()
    finally:
        await webhooks.stop()


async def test_a_refused_destination_is_a_failed_attempt_in_words_and_owners_hear_of_it(
    session_factory: sessionmaker[Session], seed: Any
) -> None:
    """Loopback without the operator's opt-in: nothing is sent, each attempt fails saying why
    (no URL, no secret), the event stays in the outbox, and its owners are told once it fails."""
    acme = seed()
    change(session_factory, acme, 12)
    receiver = WebhookReceiver(SECRET)
    server = serve_asgi(receiver.asgi_app)
    told = Told()
    default = Destination(f"{server.url}/h?token=s3cr3t-in-query", SECRET, True)
    try:
        await fail_twice(session_factory, told, default)
    finally:
        await server.stop()
    assert receiver.events == []
    [row] = outbox_rows(session_factory)
    assert (row.status, row.attempts) == (OutboxStatus.FAILED.value, 2)
    assert row.last_error == (
        "refused: the webhook's host resolves to 127.0.0.1, a loopback address (webhooks go "
        "to public addresses only, unless the operator allows private ones: "
        "allow_private_destinations or SEATBOT_WEBHOOK_ALLOW_PRIVATE)"
    )
    [notice] = told.notices
    assert notice.last_error == row.last_error


@pytest.mark.parametrize("url", UNPARSABLE)
async def test_a_stored_url_that_cannot_be_sent_fails_in_words_and_is_given_up(
    session_factory: sessionmaker[Session],
    seed: Any,
    url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A webhook stored before ``seatbot load`` refused its URL: each attempt fails saying
    why, without a traceback, and the event is given up on and its owners told like any other
    failure (it used to stay claimed and unrecorded, every pass failing with InvalidURL)."""
    acme = seed()
    change(session_factory, acme, 12)
    store_webhook(session_factory, acme.account_id, url, SECRET, CIPHER)
    told = Told()
    await fail_twice(session_factory, told)
    [row] = outbox_rows(session_factory)
    assert (row.status, row.attempts) == (OutboxStatus.FAILED.value, 2)
    assert row.last_error == f"refused: the URL {webhook_url_problem(url)}"
    [notice] = told.notices
    assert notice.last_error == row.last_error
    assert [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR] == []


class AwayThenBack(WebhookSender):
    """A sender whose first ``away`` passes find the database gone."""

    def __init__(self, *args: Any, away: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.away = away
        self.back = asyncio.Event()

    async def run_once(self) -> bool:
        if self.away > 0:
            self.away -= 1
            refused = Exception("connection failed: Connection refused")
            raise OperationalError("SELECT 1", {}, refused)
        self.back.set()
        return False


async def test_a_database_outage_is_one_warning_in_words_without_a_traceback(
    session_factory: sessionmaker[Session], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="bot.webhooks.sender")
    webhooks = AwayThenBack(
        Outbox(session_factory, RetrySchedule.of_seconds([60])),
        session_factory,
        CIPHER,
        options=SenderOptions(poll_s=0.01),
        away=3,
    )
    await webhooks.start()
    try:
        await asyncio.wait_for(webhooks.back.wait(), timeout=30)
    finally:
        await webhooks.stop()
    records = [r for r in caplog.records if r.name == "bot.webhooks.sender"]
    assert [r for r in records if r.exc_info or r.levelno >= logging.ERROR] == []
    [warning] = [r for r in records if r.levelno == logging.WARNING]
    assert warning.getMessage().startswith(
        "The billing webhook sender cannot use the database (cannot connect to the database"
    )
    assert warning.getMessage().endswith("(connection refused)); it keeps trying")
    assert [r.getMessage() for r in records if r.levelno == logging.INFO] == [
        "The billing webhook sender reaches the database again"
    ]
