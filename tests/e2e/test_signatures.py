"""Only requests signed with the app's signing secret within five minutes are acted on.

Drives the real app on a loopback socket with signed requests, against the Slack stand-in.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from pydantic import SecretStr
from slack_bolt.async_app import AsyncApp
from slack_harness import SlackHarness, serve_seatbot

from bot.offline.standin.slack_driver import sign_request
from bot.runtime.settings import Settings
from handlers.deps import HandlerDeps

SIGNING_SECRET = "e2e-signing-secret-0123456789abcdef"
BOT_TOKEN = "xoxb-e2e-1234-5678-abcdefghijklmnop"
TEAM = "T0E2E"


class PingListener:
    """A stand-in for the real listeners: acks, then posts one message."""

    def __init__(self) -> None:
        self.invocations: list[str] = []
        # Holds the failing listener until Slack has its ack: Bolt answers 404 instead of 200
        # when a listener raises within its 10 ms ack poll.
        self.release = asyncio.Event()

    def register(self, app: AsyncApp, deps: HandlerDeps) -> None:
        app.command("/seats")(self.on_seats)

    async def on_seats(self, ack: Any, command: dict[str, Any], client: Any) -> None:
        await ack()
        self.invocations.append(command["text"])
        if command["text"] == "explode":
            await self.release.wait()
            raise RuntimeError(f"boom with {BOT_TOKEN} inside")
        await client.chat_postMessage(channel=command["channel_id"], text=f"pong {command['text']}")


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        database_url=f"sqlite:///{tmp_path / 'seatbot.db'}",
        slack_signing_secret=SecretStr(SIGNING_SECRET),
        slack_bot_token=SecretStr(BOT_TOKEN),
    )


@pytest.fixture
def listener() -> PingListener:
    return PingListener()


@pytest.fixture
async def harness(settings: Settings, listener: PingListener) -> AsyncIterator[SlackHarness]:
    async with serve_seatbot(settings, team_id=TEAM, register=listener.register) as running:
        yield running


def command_body(text: str) -> str:
    return urlencode(
        {
            "team_id": TEAM,
            "channel_id": "C1",
            "user_id": "U1",
            "command": "/seats",
            "text": text,
            "response_url": "http://127.0.0.1:9/unused",
            "trigger_id": "1.unused",
        }
    )


async def test_a_signed_command_is_acked_and_acted_on(
    harness: SlackHarness, listener: PingListener
) -> None:
    result = await harness.driver.slash_command("hello", user_id="U1", channel_id="C1")
    assert result.status_code == 200
    posted = await harness.standin.wait_for("chat.postMessage", within_s=5)
    assert posted[0].args["text"] == "pong hello"
    assert posted[0].team_id == TEAM
    assert listener.invocations == ["hello"]
    assert harness.standin.violations == []


def _forged(body: str) -> dict[str, str]:
    return sign_request(body, "not-the-signing-secret", int(time.time()))


def _tampered(body: str) -> dict[str, str]:
    return sign_request(body.replace("text=bad", "text=good"), SIGNING_SECRET, int(time.time()))


def _stale(body: str) -> dict[str, str]:
    return sign_request(body, SIGNING_SECRET, int(time.time()) - 5 * 60 - 1)


def _future(body: str) -> dict[str, str]:
    return sign_request(body, SIGNING_SECRET, int(time.time()) + 5 * 60 + 30)


def _garbage_signature(body: str) -> dict[str, str]:
    return {"X-Slack-Signature": "garbage", "X-Slack-Request-Timestamp": str(int(time.time()))}


def _non_hex_signature(body: str) -> dict[str, str]:
    return {
        "X-Slack-Signature": "v0=" + "zz" * 32,
        "X-Slack-Request-Timestamp": str(int(time.time())),
    }


def _non_numeric_timestamp(body: str) -> dict[str, str]:
    headers = sign_request(body, SIGNING_SECRET, int(time.time()))
    headers["X-Slack-Request-Timestamp"] = "yesterday"
    return headers


def _missing_signature(body: str) -> dict[str, str]:
    return {"X-Slack-Request-Timestamp": str(int(time.time()))}


def _missing_timestamp(body: str) -> dict[str, str]:
    headers = sign_request(body, SIGNING_SECRET, int(time.time()))
    del headers["X-Slack-Request-Timestamp"]
    return headers


def _empty_signature(body: str) -> dict[str, str]:
    return {"X-Slack-Signature": "", "X-Slack-Request-Timestamp": ""}


def _non_ascii_signature(body: str) -> dict[str, Any]:
    return {
        "X-Slack-Signature": b"v0=\xff" + b"0" * 63,  # not text: compared as bytes
        "X-Slack-Request-Timestamp": str(int(time.time())),
    }


@pytest.mark.parametrize(
    "make_headers",
    [
        _forged,
        _tampered,
        _stale,
        _future,
        _garbage_signature,
        _non_hex_signature,
        _non_numeric_timestamp,
        _missing_signature,
        _missing_timestamp,
        _empty_signature,
        _non_ascii_signature,
    ],
)
async def test_a_bad_signature_gets_401_and_nothing_is_done(
    harness: SlackHarness, listener: PingListener, make_headers: Any
) -> None:
    body = command_body("bad")
    response = await harness.driver.post(body, headers=make_headers(body), sign=False)
    assert response.status_code == 401
    # A good request afterwards is handled: the bad one left no trace before it.
    await harness.driver.slash_command("good", user_id="U1", channel_id="C1")
    await harness.standin.wait_for("chat.postMessage", within_s=5)
    assert listener.invocations == ["good"]
    assert [c.args["text"] for c in harness.standin.calls("chat.postMessage")] == ["pong good"]


async def test_a_validly_signed_but_malformed_body_is_not_a_server_error(
    harness: SlackHarness, listener: PingListener
) -> None:
    for body, content_type in [
        ("payload=%7Bnot-json", "application/x-www-form-urlencoded"),
        ("{not json", "application/json"),
        ("", "application/x-www-form-urlencoded"),
    ]:
        response = await harness.driver.post(body, content_type=content_type)
        assert response.status_code < 500, body
    assert listener.invocations == []


@pytest.mark.parametrize(("text", "team_domain"), [("payload", "acme"), ("status", "payload-inc")])
async def test_a_command_mentioning_payload_reaches_its_listener(
    harness: SlackHarness, listener: PingListener, text: str, team_domain: str
) -> None:
    """Bolt takes any form body containing the text "payload" for an interactivity payload;
    the edge hands it the command it is."""
    harness.driver.team_domain = team_domain
    result = await harness.driver.slash_command(text, user_id="U1", channel_id="C1")
    assert result.status_code == 200
    posted = await harness.standin.wait_for("chat.postMessage", within_s=5)
    assert posted[0].args["text"] == f"pong {text}"
    assert listener.invocations == [text]


async def test_a_body_that_is_not_utf8_with_a_bad_signature_is_401(harness: SlackHarness) -> None:
    response = await harness.driver.http.post(
        harness.driver.events_url,
        content=b"command=%2Fseats&text=\xff\xfe",
        headers=_forged("x") | {"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 401


async def test_healthz(harness: SlackHarness) -> None:
    response = await harness.driver.http.get(f"{harness.app_url}/healthz")
    assert response.status_code == 200
    assert response.json() == {"ok": True}


async def test_an_unexpected_error_shows_only_a_reference_and_logs_no_token(
    harness: SlackHarness, listener: PingListener, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    from bot.runtime.logging_setup import SecretRedactor, install_redactor

    install_redactor(SecretRedactor([SIGNING_SECRET, BOT_TOKEN]))
    result = await harness.driver.slash_command("explode", user_id="U1", channel_id="C1")
    assert result.status_code == 200
    listener.release.set()
    replies = await harness.standin.wait_for("response_url", within_s=5)
    text = replies[0].args["text"]
    assert "boom" not in text
    assert BOT_TOKEN not in text
    reference = text.split("`")[1]
    assert any(reference in r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR)
    logged = caplog.text
    assert BOT_TOKEN not in logged
    assert SIGNING_SECRET not in logged
