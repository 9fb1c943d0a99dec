"""manifest.yml is valid, and says exactly what the app listens to and asks for."""

from __future__ import annotations

import inspect
import json
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import jsonschema
import pytest
import yaml
from pydantic import SecretStr
from slack_bolt.async_app import AsyncApp
from sqlalchemy.orm import sessionmaker

from billing.approvals.service import Approvals
from billing.seats.reads import AccountReads
from billing.seats.service import SeatChanges
from bot.offline.standin import SlackStandIn, StandInServer, sign_request, start_standin
from bot.offline.standin.bolt_tasks import bolt_listeners_finished
from bot.runtime.settings import Settings
from bot.web.asgi import build_asgi_app
from bot.web.bolt_app import BOT_SCOPES, build_app
from handlers.deps import HandlerDeps

REPO_ROOT = Path(__file__).resolve().parents[3]
MANIFEST = REPO_ROOT / "manifest.yml"
# Slack's published manifest schema, kept in the repository (its MIT licence beside it).
SCHEMA = REPO_ROOT / "tests" / "data" / "slack" / "manifest.schema.1.0.0.json"
SIGNING_SECRET = "manifest-test-signing-secret"
BOT_TOKEN = "xoxb-manifest-test-token"


def manifest() -> dict[str, Any]:
    loaded = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def manifest_commands() -> set[str]:
    return {c["command"] for c in manifest()["features"]["slash_commands"]}


def manifest_events() -> set[str]:
    return set(manifest()["settings"]["event_subscriptions"]["bot_events"])


def deps() -> HandlerDeps:
    return HandlerDeps(
        account_reads=AccountReads(sessionmaker()),
        approvals=Approvals(sessionmaker()),
        seat_changes=SeatChanges(sessionmaker()),
        platform_for=lambda account_id, product: None,
        clock=lambda: datetime.now(UTC),
    )


def real_app(api_url: str = "http://127.0.0.1:9/api/") -> AsyncApp:
    settings = Settings(
        slack_signing_secret=SecretStr(SIGNING_SECRET),
        slack_bot_token=SecretStr(BOT_TOKEN),
        slack_api_url=api_url,
    )
    return build_app(settings, deps())  # the real listeners, from handlers.register_listeners


def _matcher_constants(app: AsyncApp, name: str) -> set[str]:
    """The values Bolt's built-in matchers were registered with: ``command`` for
    ``app.command(...)``, ``event_type`` for ``app.event(...)``."""
    found: set[str] = set()
    for listener in app._async_listeners:
        for matcher in listener.matchers:
            outer: Callable[..., Any] | None = getattr(matcher, "func", None)
            if outer is None:
                continue
            inner = inspect.getclosurevars(outer).nonlocals.get("func")
            if inner is None:
                continue
            value = inspect.getclosurevars(inner).nonlocals.get(name)
            if isinstance(value, str):
                found.add(value)
    return found


def test_manifest_validates_against_slacks_schema() -> None:
    assert SCHEMA.is_file(), f"the manifest schema is expected at {SCHEMA}"
    assert SCHEMA.with_name("manifest.schema.LICENSE").is_file()
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    errors = sorted(validator_class(schema).iter_errors(manifest()), key=str)
    assert errors == []


def test_schema_check_catches_a_broken_manifest() -> None:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    broken = manifest()
    broken["features"]["slash_commands"][0]["command"] = "seats"  # no leading slash
    broken["display_information"]["colour"] = "blue"
    validator = jsonschema.validators.validator_for(schema)(schema)
    assert len(list(validator.iter_errors(broken))) >= 2


def test_every_manifest_command_has_a_listener_and_vice_versa() -> None:
    listened = _matcher_constants(real_app(), "command")
    assert listened, "found no command listeners: has Bolt's matcher layout changed?"
    assert listened == manifest_commands()


def test_every_manifest_event_has_a_listener_and_vice_versa() -> None:
    listened = _matcher_constants(real_app(), "event_type")
    assert listened == manifest_events()


def test_requested_scopes_are_the_manifests() -> None:
    assert set(manifest()["oauth_config"]["scopes"]["bot"]) == set(BOT_SCOPES)
    assert "user" not in manifest()["oauth_config"]["scopes"]


def test_commands_have_a_usage_hint_and_interactivity_is_on() -> None:
    for command in manifest()["features"]["slash_commands"]:
        assert command["usage_hint"]
        assert command["description"]
    assert manifest()["settings"]["interactivity"]["is_enabled"] is True


@pytest.fixture
async def standin() -> AsyncIterator[StandInServer]:
    standin = SlackStandIn()
    standin.add_workspace("T0MANIFEST", BOT_TOKEN)
    async with start_standin(standin) as server:
        yield server


async def test_each_manifest_command_and_event_is_answered(standin: StandInServer) -> None:
    """Probe the real app: Bolt answers 404 to a request no listener takes."""
    app = build_asgi_app(real_app(standin.api_url), signing_secret=SIGNING_SECRET)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://seatbot") as http:
        for command in sorted(manifest_commands()):
            body = urlencode(
                {
                    "team_id": "T0MANIFEST",
                    "user_id": "U1",
                    "channel_id": "C1",
                    "command": command,
                    "text": "help",
                    "response_url": standin.standin.issue_response_url(),
                    "trigger_id": standin.standin.issue_trigger_id(),
                }
            )
            response = await http.post("/slack/events", content=body, headers=_signed(body))
            assert response.status_code == 200, command
        for event_type in sorted(manifest_events()):
            event = {
                "type": "event_callback",
                "team_id": "T0MANIFEST",
                "api_app_id": "A0SEATBOT",
                "event_id": f"Ev{event_type}",
                "event_time": 1,
                "event": {"type": event_type, "tokens": {"bot": ["U0SEATBOT"]}},
            }
            body = json.dumps(event)
            response = await http.post(
                "/slack/events",
                content=body,
                headers={**_signed(body), "Content-Type": "application/json"},
            )
            assert response.status_code == 200, event_type
    await bolt_listeners_finished()
    assert standin.standin.violations == []


def _signed(body: str) -> dict[str, str]:
    headers = sign_request(body, SIGNING_SECRET, int(datetime.now(UTC).timestamp()))
    headers["Content-Type"] = "application/x-www-form-urlencoded"
    return headers
