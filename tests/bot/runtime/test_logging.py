"""Secrets never reach a log line, whoever logs them."""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from slack_bolt.async_app import AsyncApp
from slack_harness import SlackHarness, serve_seatbot
from starlette.applications import Starlette

from bot.offline.standin.bolt_tasks import bolt_listeners_finished
from bot.offline.standin.serving import serve_asgi, serve_uvicorn
from bot.runtime.db import make_engine, make_session_factory, upgrade
from bot.runtime.installations import SqlInstallationStore, SqlOAuthStateStore
from bot.runtime.logging_setup import (
    REDACTED,
    ProbeAccessFilter,
    QueryStringRedactor,
    SecretRedactor,
    configure_logging,
    settings_secrets,
)
from bot.runtime.secrets import TokenCipher
from bot.runtime.settings import Settings
from bot.web.asgi import build_asgi_app
from bot.web.bolt_app import build_app
from bot.web.server import uvicorn_config
from handlers.deps import HandlerDeps

BOT_TOKEN = "xoxb-4242-4343-loggingtesttoken"
SIGNING_SECRET = "logging-signing-secret-9f8e7d"
TOKEN_KEY = "Z2V0LXlvdXItb3duLWZlcm5ldC1rZXktcGxlYXNlISE="  # a valid Fernet key: serve checks


@pytest.mark.parametrize(
    ("line", "secret"),
    [
        ("token xoxb-123-456-abcDEF used", "xoxb-123-456-abcDEF"),
        ("user xoxp-1-2-3-abc", "xoxp-1-2-3-abc"),
        ("app-level xapp-1-A0-123-abcdef", "xapp-1-A0-123-abcdef"),
        ("refresh xoxe-1-abcdef", "xoxe-1-abcdef"),
        ("rotating xoxe.xoxb-1-abcdef", "xoxe.xoxb-1-abcdef"),
        ("headers {'Authorization': 'Bearer sekrit-value-1'}", "sekrit-value-1"),
        ("Authorization: Basic dXNlcjpwYXNz", "dXNlcjpwYXNz"),
        ('{"api_key": "plat-key-123456"}', "plat-key-123456"),
        ("client_secret=abcdef123456&code=1", "abcdef123456"),
        ("password: hunter2hunter2", "hunter2hunter2"),
        ('{"accessToken": "axiom-access-99"}', "axiom-access-99"),
        ("request: {'code': ['4242.1717.0c0ffee'], 'state': []}", "4242.1717.0c0ffee"),
        ("request: {'code': ['1.2.3'], 'state': ['st8-9f8e7d']}", "st8-9f8e7d"),
    ],
)
def test_patterns_are_redacted(line: str, secret: str) -> None:
    redacted = SecretRedactor().redact(line)
    assert secret not in redacted
    assert REDACTED in redacted


def test_registered_literals_are_redacted_and_ordinary_text_is_kept() -> None:
    redactor = SecretRedactor([SIGNING_SECRET])
    redactor.add("plat-cred-77", None, "", "abc")  # empty and very short values are ignored
    line = f"signing {SIGNING_SECRET} and plat-cred-77 for account acme (abc)"
    assert redactor.redact(line) == f"signing {REDACTED} and {REDACTED} for account acme (abc)"
    assert redactor.redact("3 seats on Axiom for acme") == "3 seats on Axiom for acme"


def test_settings_secrets_are_all_collected() -> None:
    settings = Settings(
        slack_bot_token=SecretStr(BOT_TOKEN),
        slack_signing_secret=SecretStr(SIGNING_SECRET),
        slack_client_secret=SecretStr("client-secret-xyz"),
        seatbot_token_keys=SecretStr(f"{TOKEN_KEY},second-key-abc"),
    )
    assert set(settings_secrets(settings)) == {
        BOT_TOKEN,
        SIGNING_SECRET,
        "client-secret-xyz",
        TOKEN_KEY,
        "second-key-abc",
    }


@pytest.fixture
def log_stream() -> Iterator[tuple[io.StringIO, Settings]]:
    settings = Settings(
        slack_bot_token=SecretStr(BOT_TOKEN),
        slack_signing_secret=SecretStr(SIGNING_SECRET),
        seatbot_token_keys=SecretStr(TOKEN_KEY),
    )
    stream = io.StringIO()
    root = logging.getLogger()
    before_handlers, before_level = list(root.handlers), root.level
    configure_logging(settings, level=logging.DEBUG, stream=stream)
    try:
        yield stream, settings
    finally:
        for handler in root.handlers:
            if handler not in before_handlers:
                root.removeHandler(handler)
        for handler in before_handlers:
            handler.filters = [f for f in handler.filters if not isinstance(f, SecretRedactor)]
        access = logging.getLogger("uvicorn.access")
        access.filters = [
            f for f in access.filters if not isinstance(f, QueryStringRedactor | ProbeAccessFilter)
        ]
        root.setLevel(before_level)


def test_messages_args_and_tracebacks_are_redacted(
    log_stream: tuple[io.StringIO, Settings],
) -> None:
    stream, _ = log_stream
    log = logging.getLogger("tests.redaction")
    log.info("calling with %s", BOT_TOKEN)
    try:
        raise RuntimeError(f"failed with signing secret {SIGNING_SECRET}")
    except RuntimeError:
        log.exception("it broke")
    output = stream.getvalue()
    assert "calling with [redacted]" in output
    assert "RuntimeError: failed with signing secret [redacted]" in output
    assert BOT_TOKEN not in output
    assert SIGNING_SECRET not in output


class ChattyListener:
    """Logs what a careless listener might: the whole context, the token included."""

    def register(self, app: AsyncApp, deps: HandlerDeps) -> None:
        app.command("/seats")(self.on_seats)

    async def on_seats(self, ack: Any, context: Any, client: Any, logger: logging.Logger) -> None:
        await ack()
        logger.info("context bot_token=%s", context.get("bot_token"))
        await client.chat_postMessage(channel="C1", text="hello")


@pytest.fixture
async def harness(
    tmp_path: Path, log_stream: tuple[io.StringIO, Settings]
) -> AsyncIterator[SlackHarness]:
    _, settings = log_stream
    settings = settings.model_copy(update={"database_url": f"sqlite:///{tmp_path / 'log.db'}"})
    async with serve_seatbot(settings, register=ChattyListener().register) as running:
        yield running


async def test_no_token_in_any_log_line_of_a_real_request(
    harness: SlackHarness, log_stream: tuple[io.StringIO, Settings]
) -> None:
    stream, _ = log_stream
    result = await harness.driver.slash_command("status", user_id="U1", channel_id="C1")
    assert result.status_code == 200
    await harness.standin.wait_for("chat.postMessage", within_s=5)
    await bolt_listeners_finished()
    output = stream.getvalue()
    assert "context bot_token=[redacted]" in output  # the listener did log it, redacted
    assert "Sending a request" not in output  # slack_sdk's request bodies are left out
    for secret in (BOT_TOKEN, SIGNING_SECRET, TOKEN_KEY):
        assert secret not in output


# ---------------------------------------------------------------- the access log


@pytest.fixture
def oauth_app(tmp_path: Path) -> Iterator[Starlette]:
    url = f"sqlite:///{tmp_path / 'oauth.db'}"
    upgrade(url)
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    settings = Settings(
        slack_signing_secret=SecretStr(SIGNING_SECRET),
        slack_client_id="1.2",
        slack_client_secret=SecretStr("client-secret-xyz"),
        slack_api_url="http://127.0.0.1:9/api/",
    )
    app = build_app(
        settings,
        None,  # type: ignore[arg-type]  # no listeners, no deps
        installation_store=SqlInstallationStore(
            sessions, TokenCipher([TokenCipher.new_key()]), client_id="1.2"
        ),
        state_store=SqlOAuthStateStore(sessions),
        register=lambda app, deps: None,
    )
    try:
        yield build_asgi_app(app, signing_secret=SIGNING_SECRET)
    finally:
        engine.dispose()


async def test_the_access_log_shows_no_oauth_code_or_state(
    log_stream: tuple[io.StringIO, Settings],
    oauth_app: Starlette,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """uvicorn's access log prints the path with its query string: the values are redacted."""
    stream, _ = log_stream
    caplog.set_level(logging.INFO, logger="uvicorn.access")  # earlier servers may have raised it
    code, state = "4242.1717.0c0ffee0c0de", "st8-9f8e7d6c5b4a"
    server = serve_uvicorn(uvicorn_config(oauth_app, host="127.0.0.1", port=0))
    try:
        async with httpx.AsyncClient() as http:
            response = await http.get(
                f"{server.url}/slack/oauth_redirect",
                params={"code": code, "state": state},
            )
        assert response.status_code < 500
        async with asyncio.timeout(10):  # uvicorn logs the line after sending the response
            while True:
                if "/slack/oauth_redirect" in stream.getvalue():
                    break
                await asyncio.sleep(0.01)
    finally:
        await server.stop()
    # The test's own HTTP client (httpx) logs the URL it fetched: not the app's log.
    lines = [line for line in stream.getvalue().splitlines() if " httpx: " not in line]
    access = [line for line in lines if "uvicorn.access" in line]
    assert len(access) == 1, lines
    assert '"GET /slack/oauth_redirect?code=…&state=… HTTP/1.1" ' in access[0]
    assert [line for line in lines if code in line or state in line] == []


@pytest.mark.parametrize(
    ("path", "shown"),
    [
        ("/slack/oauth_redirect?code=abc&state=def", "/slack/oauth_redirect?code=…&state=…"),
        ("/slack/install", "/slack/install"),
        ("/x?flag&empty=&a=1&a=2", "/x?…&empty=&a=…&a=…"),  # a bare part may be a secret
        ("/x?%E2%9C%93=%E2%9C%93", "/x?%E2%9C%93=…"),
    ],
)
def test_query_values_are_redacted_from_access_records(path: str, shown: str) -> None:
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", path, "1.1", 200),
        None,
    )
    assert QueryStringRedactor().filter(record)
    assert record.getMessage() == f'127.0.0.1:5000 - "GET {shown} HTTP/1.1" 200'


# ---------------------------------------------------------------- URLs

#: A secret in a webhook URL's query string (the e2e scan looks for names like this one too).
URL_TOKEN = "url-token-5e3f1a9b"


def test_any_url_in_a_line_is_shown_without_its_query_values_or_password() -> None:
    line = f"POST https://billing.example.com/h?token={URL_TOKEN}&sig=abc and https://u:pw12345@h/"
    assert SecretRedactor().redact(line) == (
        "POST https://billing.example.com/h?token=…&sig=… and https://u:***@h/"
    )


async def test_httpx_request_lines_of_a_real_delivery_show_the_url_redacted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """httpx logs "HTTP Request: POST <url>" at INFO, whatever handler listens (here pytest's,
    with no redactor of ours): the URL's query values are redacted on the logger itself."""
    from bot.webhooks.config import Destination, new_webhook_secret
    from bot.webhooks.delivery import post_event, webhook_client
    from bot.webhooks.guard import DestinationGuard
    from bot.webhooks.receiver import WebhookReceiver

    caplog.set_level(logging.INFO, logger="httpx")
    secret = new_webhook_secret()
    receiver = WebhookReceiver(secret)
    server = serve_asgi(receiver.asgi_app)
    url = f"{server.url}/hooks?token={URL_TOKEN}"
    try:
        async with webhook_client() as client:
            result = await post_event(
                client,
                Destination(url, secret, allow_private=True),
                "msg_1",
                "{}",
                at=datetime.now(UTC),
                timeout_s=5,
                guard=DestinationGuard(),
            )
        assert result.delivered is True
    finally:
        await server.stop()
    lines = [record.getMessage() for record in caplog.records if record.name == "httpx"]
    assert lines == [f'HTTP Request: POST {server.url}/hooks?token=… "HTTP/1.1 204 No Content"']
    assert URL_TOKEN not in caplog.text


# ---------------------------------------------------------------- Slack request bodies

OAUTH_CODE = "4242.1717.c0dec0dec0de"


async def test_slack_sdk_request_bodies_stay_out_of_the_logs_even_at_debug(
    log_stream: tuple[io.StringIO, Settings],
) -> None:
    """slack_sdk logs each request's parameters at debug level (the OAuth ``code`` of an
    install among them), on its own logger or on the one it was given (Bolt gives its own)."""
    from slack_sdk import WebClient
    from slack_sdk.web.async_client import AsyncWebClient

    stream, _ = log_stream
    closed = "http://127.0.0.1:9/api/"  # nothing listens: the request is logged, then fails
    bolt_logger = logging.getLogger("slack_bolt.AsyncApp")
    before = bolt_logger.level
    bolt_logger.setLevel(logging.DEBUG)  # what Bolt does when the root logger is at debug
    try:
        for client in (
            AsyncWebClient(base_url=closed),
            AsyncWebClient(base_url=closed, logger=bolt_logger),
        ):
            with pytest.raises(Exception):  # noqa: B017, PT011 - aiohttp's connection error
                await client.oauth_v2_access(client_id="1.2", client_secret="cs-1", code=OAUTH_CODE)
        with pytest.raises(Exception):  # noqa: B017, PT011 - urllib's connection error
            WebClient(base_url=closed).oauth_v2_access(
                client_id="1.2", client_secret="cs-1", code=OAUTH_CODE
            )
    finally:
        bolt_logger.setLevel(before)
    output = stream.getvalue()
    assert OAUTH_CODE not in output
    assert "Sending a request" not in output
