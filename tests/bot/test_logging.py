"""Secrets never reach a log line, whoever logs them."""

from __future__ import annotations

import io
import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from slack_bolt.async_app import AsyncApp

from bot.logging_setup import REDACTED, SecretRedactor, configure_logging, settings_secrets
from bot.settings import Settings
from bot.standin.harness import SlackHarness, bolt_listeners_finished, serve_seatbot
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
    assert "chat.postMessage" in output  # slack_sdk's debug lines were captured too
    for secret in (BOT_TOKEN, SIGNING_SECRET, TOKEN_KEY):
        assert secret not in output
