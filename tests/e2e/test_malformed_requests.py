"""A correctly signed request that makes no sense gets 400 and one WARNING line, never a 5xx or
a traceback: the real app (the real listeners) on a loopback socket, as in the adversarial run.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from pydantic import SecretStr
from slack_harness import SlackHarness, serve_seatbot

from bot.offline.standin.bolt_tasks import bolt_listeners_finished
from bot.runtime.settings import Settings
from handlers import ids

SIGNING_SECRET = "malformed-signing-secret-0123456789"
BOT_TOKEN = "xoxb-malformed-1234-5678-abcdefgh"
TEAM = "T0MALFORMED"
FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
MARKER = "MARKER7Q"  # planted in bodies: no log line may repeat a body


def signed(body: bytes) -> dict[str, str]:
    timestamp = str(int(time.time()))
    basestring = b"v0:" + timestamp.encode() + b":" + body
    digest = hmac.new(SIGNING_SECRET.encode(), basestring, hashlib.sha256).hexdigest()
    return {"X-Slack-Signature": f"v0={digest}", "X-Slack-Request-Timestamp": timestamp}


def interactive(payload: Any) -> bytes:
    return urlencode({"payload": json.dumps(payload)}).encode()


def command(**overrides: str | None) -> bytes:
    fields: dict[str, str | None] = {
        "token": "deprecated",
        "team_id": TEAM,
        "team_domain": "acme",
        "channel_id": "C1",
        "user_id": "U1",
        "command": "/seats",
        "text": f"help {MARKER}",
        "response_url": "http://127.0.0.1:9/commands/1",
        "trigger_id": "1.2.3",
    }
    fields.update(overrides)
    return urlencode({k: v for k, v in fields.items() if v is not None}).encode()


def block_actions(**overrides: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "type": "block_actions",
        "team": {"id": TEAM, "domain": "acme"},
        "user": {"id": "U1", "team_id": TEAM},
        "api_app_id": "A1",
        "trigger_id": "1.2.3",
        "actions": [{"action_id": ids.CONFIRM_ACTION, "block_id": "b", "value": MARKER}],
        "response_url": "http://127.0.0.1:9/actions/1",
    }
    payload.update(overrides)
    return {k: v for k, v in payload.items() if v is not None}


def view(**overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "id": "V1",
        "type": "modal",
        "callback_id": ids.MODAL_CALLBACK,
        "private_metadata": MARKER,
        "state": {"values": {}},
        "hash": "1.abc",
    }
    fields.update(overrides)
    return {k: v for k, v in fields.items() if v is not None}


def view_submission(**overrides: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "type": "view_submission",
        "team": {"id": TEAM, "domain": "acme"},
        "user": {"id": "U1", "team_id": TEAM},
        "api_app_id": "A1",
        "trigger_id": "1.2.3",
        "view": view(),
        "response_urls": [],
    }
    payload.update(overrides)
    return {k: v for k, v in payload.items() if v is not None}


def event(**overrides: Any) -> bytes:
    body: dict[str, Any] = {
        "type": "event_callback",
        "team_id": TEAM,
        "api_app_id": "A1",
        "event": {"type": "app_uninstalled", "event_ts": "1.2"},
        "event_id": "Ev1",
        "authorizations": [{"team_id": TEAM, "user_id": "U0BOT", "is_bot": True}],
    }
    body.update(overrides)
    return json.dumps({k: v for k, v in body.items() if v is not None}).encode()


MALFORMED: dict[str, tuple[bytes, str]] = {
    "empty body": (b"", FORM),
    "payload is a JSON array": (b"payload=%5B%5D", FORM),
    "payload is an empty object": (b"payload=%7B%7D", FORM),
    "payload is not JSON": (b"payload=%7Bnot-json", FORM),
    "payload nested 100000 deep": (b"payload=" + b"%5B" * 100_000, FORM),
    "payload without a type": (interactive(block_actions(type=None)), FORM),
    "payload of an unknown type": (interactive(block_actions(type="bogus")), FORM),
    "type is a number": (interactive(block_actions(type=7)), FORM),
    "block_actions without user": (interactive(block_actions(user=None)), FORM),
    "block_actions without team": (interactive(block_actions(team=None)), FORM),
    "user is a string": (interactive(view_submission(user="U1")), FORM),
    "team id is a number": (interactive(block_actions(team={"id": 5})), FORM),
    "user id is junk": (interactive(block_actions(user={"id": "u 1; drop"})), FORM),
    "team id is huge": (interactive(block_actions(team={"id": "T" * 5000})), FORM),
    "actions is empty": (interactive(block_actions(actions=[])), FORM),
    "an action is a number": (interactive(block_actions(actions=[5])), FORM),
    "action without action_id": (interactive(block_actions(actions=[{"block_id": "b"}])), FORM),
    "enterprise is a number": (interactive(block_actions(enterprise=5)), FORM),
    "channel is a number": (interactive(block_actions(channel=5)), FORM),
    "view is a string": (interactive(block_actions(view="V1")), FORM),
    "view_submission without view": (interactive(view_submission(view=None)), FORM),
    "view without private_metadata": (
        interactive(view_submission(view=view(private_metadata=None))),
        FORM,
    ),
    "view state is a list": (interactive(view_submission(view=view(state=[]))), FORM),
    "response_urls holds a number": (interactive(view_submission(response_urls=[5])), FORM),
    "lone surrogate in the payload": (
        b"payload=" + quote(json.dumps(block_actions()).replace(MARKER, "\\ud800")).encode(),
        FORM,
    ),
    "command without team_id": (command(team_id=None), FORM),
    "command without user_id": (command(user_id=None), FORM),
    "command without channel_id": (command(channel_id=None), FORM),
    "command without response_url": (command(response_url=None), FORM),
    "command with a junk team_id": (command(team_id="not a team"), FORM),
    "command with a huge user_id": (command(user_id="U" * 5000), FORM),
    "command with a field twice": (command() + b"&team_id=T0OTHER", FORM),
    "form with neither command nor payload": (f"foo={MARKER}".encode(), FORM),
    "non-UTF-8 bytes": (b"command=%2Fseats&team_id=T1&text=\xff\xfe" + MARKER.encode(), FORM),
    "percent-encoded non-UTF-8": (command(text=None) + b"&text=%FF%FE", FORM),
    "JSON body is an array": (b"[1, 2]", JSON),
    "JSON body is not JSON": (b"{not json", JSON),
    "event is a string": (event(event="app_uninstalled"), JSON),
    "event without a type": (event(event={"event_ts": "1.2"}), JSON),
    "events API type unknown": (event(type="bogus"), JSON),
    "event_callback without team_id": (event(team_id=None), JSON),
    "authorizations holds a number": (event(authorizations=[5]), JSON),
    "url_verification without challenge": (json.dumps({"type": "url_verification"}).encode(), JSON),
}


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[SlackHarness]:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'malformed.db'}",
        slack_signing_secret=SecretStr(SIGNING_SECRET),
        slack_bot_token=SecretStr(BOT_TOKEN),
    )
    async with serve_seatbot(settings, team_id=TEAM) as running:  # the real listeners
        yield running


async def post(harness: SlackHarness, body: bytes, content_type: str) -> Any:
    headers = {"Content-Type": content_type, **signed(body)}
    return await harness.driver.http.post(harness.driver.events_url, content=body, headers=headers)


def app_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """What the app and its libraries logged (not the test's own HTTP client)."""
    return [r for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]


@pytest.mark.parametrize("case", list(MALFORMED))
async def test_a_signed_malformed_request_gets_400_and_one_warning(
    harness: SlackHarness, caplog: pytest.LogCaptureFixture, case: str
) -> None:
    body, content_type = MALFORMED[case]
    caplog.set_level(logging.DEBUG)
    caplog.clear()
    response = await post(harness, body, content_type)
    await bolt_listeners_finished()
    assert response.status_code == 400, response.text
    assert response.json() == {"error": "malformed request"}
    records = app_records(caplog)
    assert [r for r in records if r.exc_info or r.levelno >= logging.ERROR] == []
    warnings = [r for r in records if r.levelno == logging.WARNING]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    assert warnings[0].name == "bot.web.asgi"
    assert "\n" not in warnings[0].getMessage()
    assert MARKER not in caplog.text
    assert harness.standin.calls() == []  # nothing was acted on


async def test_a_request_no_listener_wants_gets_one_warning_line(
    harness: SlackHarness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    caplog.clear()
    unknown = block_actions(actions=[{"action_id": "no_such_action", "block_id": "b"}])
    response = await post(harness, interactive(unknown), FORM)
    await bolt_listeners_finished()
    assert response.status_code == 404
    records = app_records(caplog)
    assert [r for r in records if r.exc_info or r.levelno >= logging.ERROR] == []
    warnings = [r for r in records if r.levelno == logging.WARNING]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    assert "\n" not in warnings[0].getMessage()
    assert "no_such_action" in warnings[0].getMessage()


async def test_url_verification_still_answers_the_challenge(harness: SlackHarness) -> None:
    challenge = "3eZbrw1aBm2rZgRNFdxV2595E9"
    body = {"token": "deprecated", "challenge": challenge, "type": "url_verification"}
    response = await post(harness, json.dumps(body).encode(), JSON)
    assert response.status_code == 200
    assert response.json() == {"challenge": challenge}


async def test_a_well_formed_event_is_acknowledged(harness: SlackHarness) -> None:
    response = await post(harness, event(), JSON)
    await bolt_listeners_finished()
    assert response.status_code == 200


async def test_ssl_check_is_acknowledged(harness: SlackHarness) -> None:
    response = await post(harness, b"ssl_check=1&token=deprecated", FORM)
    assert response.status_code == 200
