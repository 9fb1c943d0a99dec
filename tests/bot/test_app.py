"""build_app: the two install modes, refusing incomplete settings, and the one error handler."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from slack_bolt.async_app import AsyncApp
from sqlalchemy.orm import sessionmaker

from billing.seat_changes import SeatChanges
from bot.app import ConfigurationError, build_app, generic_error_text
from bot.installations import SqlInstallationStore, SqlOAuthStateStore, TokenCipher
from bot.server import build_asgi_app
from bot.settings import Settings
from bot.standin import SlackStandIn, StandInServer, sign_request, start_standin
from bot.standin.harness import bolt_listeners_finished
from handlers.deps import HandlerDeps

SIGNING_SECRET = "app-test-signing-secret"
BOT_TOKEN = "xoxb-app-test-token-123"


def deps() -> HandlerDeps:
    return HandlerDeps(
        seat_changes=SeatChanges(sessionmaker()),
        platform_for=lambda account_id, product: None,
        clock=lambda: datetime.now(UTC),
    )


def no_listeners(app: AsyncApp, deps: HandlerDeps) -> None:
    """Registers nothing."""


def test_signing_secret_is_required_over_http() -> None:
    settings = Settings(slack_bot_token=SecretStr(BOT_TOKEN))
    with pytest.raises(ConfigurationError, match="SLACK_SIGNING_SECRET"):
        build_app(settings, deps(), register=no_listeners)


def test_a_token_or_oauth_credentials_are_required() -> None:
    settings = Settings(slack_signing_secret=SecretStr(SIGNING_SECRET))
    with pytest.raises(ConfigurationError, match="SLACK_BOT_TOKEN"):
        build_app(settings, deps(), register=no_listeners)


def test_oauth_needs_our_stores() -> None:
    settings = Settings(
        slack_signing_secret=SecretStr(SIGNING_SECRET),
        slack_client_id="1.2",
        slack_client_secret=SecretStr("client-secret"),
    )
    with pytest.raises(ConfigurationError, match="installation store"):
        build_app(settings, deps(), register=no_listeners)


def test_oauth_mode_uses_the_given_stores_and_the_web_api_url() -> None:
    settings = Settings(
        slack_signing_secret=SecretStr(SIGNING_SECRET),
        slack_client_id="1.2",
        slack_client_secret=SecretStr("client-secret"),
        slack_api_url="http://127.0.0.1:9/api/",
    )
    sessions = sessionmaker()
    store = SqlInstallationStore(sessions, TokenCipher([TokenCipher.new_key()]), client_id="1.2")
    app = build_app(
        settings,
        deps(),
        installation_store=store,
        state_store=SqlOAuthStateStore(sessions),
        register=no_listeners,
    )
    assert app.installation_store is store
    assert app.oauth_flow is not None
    assert app.oauth_flow.settings.scopes == ["commands", "chat:write"]
    assert app.client.base_url == "http://127.0.0.1:9/api/"
    assert app.client.token is None  # tokens come from the store, per workspace


def test_single_workspace_mode_uses_the_bot_token_and_the_web_api_url() -> None:
    settings = Settings(
        slack_signing_secret=SecretStr(SIGNING_SECRET),
        slack_bot_token=SecretStr(BOT_TOKEN),
        slack_api_url="http://127.0.0.1:9/api/",
    )
    app = build_app(settings, deps(), register=no_listeners)
    assert app.oauth_flow is None
    assert app.client.base_url == "http://127.0.0.1:9/api/"
    assert app.client.token == BOT_TOKEN


def test_socket_mode_alone_needs_no_signing_secret() -> None:
    settings = Settings(
        slack_bot_token=SecretStr(BOT_TOKEN), slack_app_token=SecretStr("xapp-1-A-1-abc")
    )
    assert isinstance(build_app(settings, deps(), register=no_listeners), AsyncApp)


def test_the_generic_error_text_names_only_the_reference() -> None:
    text = generic_error_text("abcd1234")
    assert "`abcd1234`" in text
    assert "Error" not in text


class FailingListener:
    def register(self, app: AsyncApp, deps: HandlerDeps) -> None:
        app.view_submission("seat_change")(self.on_submit)

    async def on_submit(self, ack: Any) -> None:
        raise ValueError(f"database password=hunter2hunter2 and {BOT_TOKEN}")


@pytest.fixture
async def standin() -> Any:
    slack = SlackStandIn()
    slack.add_workspace("T0APP", BOT_TOKEN)
    async with start_standin(slack) as server:
        yield server


async def test_an_error_before_ack_is_logged_with_a_reference_and_no_detail_is_returned(
    standin: StandInServer, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(
        slack_signing_secret=SecretStr(SIGNING_SECRET),
        slack_bot_token=SecretStr(BOT_TOKEN),
        slack_api_url=standin.api_url,
    )
    app = build_app(settings, deps(), register=FailingListener().register)
    asgi = build_asgi_app(app, signing_secret=SIGNING_SECRET)
    payload = {
        "type": "view_submission",
        "team": {"id": "T0APP"},
        "user": {"id": "U1", "team_id": "T0APP"},
        "view": {
            "id": "V1",
            "type": "modal",
            "callback_id": "seat_change",
            "state": {"values": {}},
        },
    }
    body = str(httpx.QueryParams({"payload": json.dumps(payload)}))
    headers = sign_request(body, SIGNING_SECRET, int(datetime.now(UTC).timestamp()))
    headers["Content-Type"] = "application/x-www-form-urlencoded"
    caplog.set_level(logging.INFO)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=asgi), base_url="http://seatbot"
    ) as http:
        response = await http.post("/slack/events", content=body, headers=headers)
    await bolt_listeners_finished()
    assert response.status_code == 500  # Slack shows its own "something went wrong"
    assert "hunter2" not in response.text
    assert BOT_TOKEN not in response.text
    errors = [r for r in caplog.records if r.name == "bot.app" and r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert "reference" in errors[0].getMessage()
    assert "view_submission" in errors[0].getMessage()
