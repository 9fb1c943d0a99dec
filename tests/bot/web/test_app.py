"""build_app: the two install modes, refusing incomplete settings, and the one error handler."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from slack_bolt.async_app import AsyncApp, AsyncBoltRequest
from slack_bolt.authorization import AuthorizeResult
from slack_sdk.models.views import View
from sqlalchemy.orm import sessionmaker

from billing.approvals.service import Approvals
from billing.errors import ConfigurationError, NotAuthorised
from billing.seats.reads import AccountReads
from billing.seats.service import SeatChanges
from bot.offline.standin import SlackStandIn, StandInServer, sign_request, start_standin
from bot.offline.standin.bolt_tasks import bolt_listeners_finished
from bot.runtime.installations import SqlInstallationStore, SqlOAuthStateStore
from bot.runtime.secrets import TokenCipher
from bot.runtime.settings import Settings
from bot.web.asgi import build_asgi_app
from bot.web.bolt_app import build_app
from handlers.deps import HandlerDeps
from handlers.views import unexpected_error_message

SIGNING_SECRET = "app-test-signing-secret"
BOT_TOKEN = "xoxb-app-test-token-123"


def deps() -> HandlerDeps:
    return HandlerDeps(
        account_reads=AccountReads(sessionmaker()),
        approvals=Approvals(sessionmaker()),
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
    assert app.oauth_flow.settings.scopes == ["commands", "chat:write", "files:write"]
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
    text = unexpected_error_message("abcd1234").text
    assert "`abcd1234`" in text
    assert "Error" not in text


async def test_bolt_leaves_the_signature_to_the_edge(standin: StandInServer) -> None:
    """The signature is checked once, in one place: the edge (``bot.web.signature``) refuses an
    unsigned or forged request before Bolt sees it (tests/e2e/test_signatures.py), so the Bolt
    app does not check the same bytes again."""
    settings = Settings(
        slack_signing_secret=SecretStr(SIGNING_SECRET),
        slack_bot_token=SecretStr(BOT_TOKEN),
        slack_api_url=standin.api_url,
    )
    heard: list[str] = []

    async def on_seats(ack: Any, command: dict[str, Any]) -> None:
        await ack()
        heard.append(command["text"])

    app = build_app(settings, deps(), register=lambda app, deps: app.command("/seats")(on_seats))
    body = "command=%2Fseats&text=unsigned&team_id=T0APP&user_id=U1&channel_id=C1"
    form = {"content-type": "application/x-www-form-urlencoded"}
    response = await app.async_dispatch(AsyncBoltRequest(body=body, headers=form))
    await bolt_listeners_finished()
    assert response.status == 200
    assert heard == ["unsigned"]


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


async def _post_view_submission(app: AsyncApp) -> httpx.Response:
    asgi = build_asgi_app(app, signing_secret=SIGNING_SECRET)
    payload = {
        "type": "view_submission",
        "team": {"id": "T0APP"},
        "user": {"id": "U1", "team_id": "T0APP"},
        "view": {
            "id": "V1",
            "type": "modal",
            "callback_id": "seat_change",
            "private_metadata": "",
            "state": {"values": {}},
        },
    }
    body = str(httpx.QueryParams({"payload": json.dumps(payload)}))
    headers = sign_request(body, SIGNING_SECRET, int(datetime.now(UTC).timestamp()))
    headers["Content-Type"] = "application/x-www-form-urlencoded"
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=asgi), base_url="http://seatbot"
    ) as http:
        response = await http.post("/slack/events", content=body, headers=headers)
    await bolt_listeners_finished()
    return response


async def test_an_error_before_ack_is_logged_with_a_reference_and_the_modal_shows_only_it(
    standin: StandInServer, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(
        slack_signing_secret=SecretStr(SIGNING_SECRET),
        slack_bot_token=SecretStr(BOT_TOKEN),
        slack_api_url=standin.api_url,
    )
    app = build_app(settings, deps(), register=FailingListener().register)
    caplog.set_level(logging.INFO)
    response = await _post_view_submission(app)
    assert response.status_code == 200  # not a 5xx: the modal says what happened
    assert "hunter2" not in response.text
    assert BOT_TOKEN not in response.text
    errors = [
        r for r in caplog.records if r.name == "handlers.errors" and r.levelno == logging.ERROR
    ]
    assert len(errors) == 1
    assert "reference" in errors[0].getMessage()
    assert "view_submission" in errors[0].getMessage()
    reference = errors[0].getMessage().split("reference ")[1].rstrip(")")
    answer = response.json()
    assert answer["response_action"] == "update"
    assert reference in json.dumps(answer["view"])
    View(**answer["view"]).validate_json()  # a modal Slack accepts


class RefusingListener:
    def register(self, app: AsyncApp, deps: HandlerDeps) -> None:
        app.view_submission("seat_change")(self.on_submit)

    async def on_submit(self, ack: Any) -> None:
        raise NotAuthorised("Only the owners of Acme can change seats.")


async def test_an_expected_error_before_ack_shows_its_message_in_the_modal(
    standin: StandInServer, caplog: pytest.LogCaptureFixture
) -> None:
    """Bolt's error handler maps the tree as the desk does: an expected error is its message,
    not the generic apology, and no failure is logged."""
    settings = Settings(
        slack_signing_secret=SecretStr(SIGNING_SECRET),
        slack_bot_token=SecretStr(BOT_TOKEN),
        slack_api_url=standin.api_url,
    )
    app = build_app(settings, deps(), register=RefusingListener().register)
    caplog.set_level(logging.INFO)
    response = await _post_view_submission(app)
    assert response.status_code == 200
    answer = response.json()
    assert answer["response_action"] == "update"
    assert "Only the owners of Acme can change seats." in json.dumps(answer["view"])
    assert "reference" not in json.dumps(answer["view"])
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []


class AckThenFail:
    def register(self, app: AsyncApp, deps: HandlerDeps) -> None:
        app.view_submission("seat_change")(self.on_submit)

    async def on_submit(self, ack: Any) -> None:
        await ack()
        raise RuntimeError("after the ack")


async def test_an_error_right_after_ack_is_not_a_server_error(
    standin: StandInServer, caplog: pytest.LogCaptureFixture
) -> None:
    """Bolt forgets an ack when the listener raises right after it, before Bolt's ack poll
    saw it, and answers 404 three seconds later: the ack stands, the error is logged once."""
    settings = Settings(
        slack_signing_secret=SecretStr(SIGNING_SECRET),
        slack_bot_token=SecretStr(BOT_TOKEN),
        slack_api_url=standin.api_url,
    )
    app = build_app(settings, deps(), register=AckThenFail().register)
    caplog.set_level(logging.INFO)
    response = await _post_view_submission(app)
    assert response.status_code == 200
    assert response.text == ""  # the listener's ack
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1
    assert errors[0].name == "handlers.errors"
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING] == []


def test_no_bolt_warning_when_slack_bot_token_is_in_the_environment(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Bolt reads SLACK_BOT_TOKEN itself and warns that it is unused when a client is given:
    the app is built so that Bolt has nothing to warn about, in both install modes."""
    monkeypatch.setenv("SLACK_BOT_TOKEN", BOT_TOKEN)
    caplog.set_level(logging.DEBUG)
    single = Settings(
        slack_signing_secret=SecretStr(SIGNING_SECRET),
        slack_bot_token=SecretStr(BOT_TOKEN),
        slack_api_url="http://127.0.0.1:9/api/",
    )
    app = build_app(single, deps(), register=no_listeners)
    assert app.client.token == BOT_TOKEN
    assert app.client.base_url == "http://127.0.0.1:9/api/"
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []


class FailingCommand:
    def register(self, app: AsyncApp, deps: HandlerDeps) -> None:
        app.command("/seats")(self.on_seats)

    async def on_seats(self, ack: Any) -> None:
        raise KeyError("team_id")


async def test_an_apology_that_cannot_be_delivered_is_one_warning_line(
    standin: StandInServer, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(
        slack_signing_secret=SecretStr(SIGNING_SECRET),
        slack_bot_token=SecretStr(BOT_TOKEN),
        slack_api_url=standin.api_url,
    )
    asgi = build_asgi_app(
        build_app(settings, deps(), register=FailingCommand().register),
        signing_secret=SIGNING_SECRET,
    )
    body = str(
        httpx.QueryParams(
            {
                "command": "/seats",
                "team_id": "T0APP",
                "user_id": "U1",
                "channel_id": "C1",
                "text": "",
                "response_url": "http://127.0.0.1:9/nobody-listens",
                "trigger_id": "1.2.3",
            }
        )
    )
    headers = sign_request(body, SIGNING_SECRET, int(datetime.now(UTC).timestamp()))
    headers["Content-Type"] = "application/x-www-form-urlencoded"
    caplog.set_level(logging.INFO)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=asgi), base_url="http://seatbot"
    ) as http:
        response = await http.post("/slack/events", content=body, headers=headers)
    await bolt_listeners_finished()
    assert response.status_code == 200
    ours = [r for r in caplog.records if r.name in ("handlers.errors", "bot.web.bolt_app")]
    assert [r.levelno for r in ours] == [logging.ERROR, logging.WARNING]
    assert ours[0].exc_info is not None  # the failure itself, with its traceback
    assert ours[1].exc_info is None
    assert "Could not tell the user" in ours[1].getMessage()


async def test_the_edge_answers_200_when_bolt_answers_500() -> None:
    """A Bolt app without our error handler answers 500 for a listener that fails before its
    ack (Bolt's default handler logs it): the edge does not pass the 5xx on."""

    async def authorize(team_id: str | None) -> AuthorizeResult:
        return AuthorizeResult(enterprise_id=None, team_id=team_id, bot_token=BOT_TOKEN)

    bolt_app = AsyncApp(signing_secret=SIGNING_SECRET, authorize=authorize)

    @bolt_app.command("/seats")
    async def fail(ack: Any) -> None:
        raise RuntimeError("before the ack")

    asgi = build_asgi_app(bolt_app, signing_secret=SIGNING_SECRET)
    body = str(
        httpx.QueryParams(
            {
                "command": "/seats",
                "team_id": "T0APP",
                "user_id": "U1",
                "channel_id": "C1",
                "response_url": "http://127.0.0.1:9/r",
                "trigger_id": "1.2.3",
            }
        )
    )
    headers = sign_request(body, SIGNING_SECRET, int(datetime.now(UTC).timestamp()))
    headers["Content-Type"] = "application/x-www-form-urlencoded"
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=asgi), base_url="http://seatbot"
    ) as http:
        response = await http.post("/slack/events", content=body, headers=headers)
    await bolt_listeners_finished()
    assert response.status_code == 200
