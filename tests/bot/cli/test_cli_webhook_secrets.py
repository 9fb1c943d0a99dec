"""Generated webhook URLs (hypothesis) through ``seatbot load``, a delivery and ``seatbot
webhooks list`` (issue 16): a URL with a user name or password before its host is refused in
one line that never holds the password; a secret in an accepted URL's query is never printed,
logged or stored in clear. All in this process, the receiver a stand-in that answers 500."""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from outbox_helpers import change
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from webhook_urls import (
    PASSWORD,
    QUERY_SECRET,
    UNPARSABLE,
    accounts_yaml,
    urls_with_query_secret,
    urls_with_userinfo,
)

from billing.events.destinations import CREDENTIALS_PROBLEM, MAX_URL_LENGTH, webhook_url_problem
from billing.events.rules import RetrySchedule
from billing.events.service import Outbox
from billing.events.store import BillingWebhook
from billing.models import Account, Base
from bot.runtime.secrets import TokenCipher
from bot.webhooks.config import Destination, destination_for, new_webhook_secret
from bot.webhooks.guard import DestinationGuard
from bot.webhooks.sender import WebhookSender
from tests.bot.cli.conftest import RunSeatbot

KEY = TokenCipher.new_key()
SECRET = new_webhook_secret()


@pytest.fixture
def cli_env(db_url: str) -> dict[str, str | None]:
    return {
        "DATABASE_URL": db_url,
        "SEATBOT_TOKEN_KEYS": KEY,
        "SEATBOT_WEBHOOK_URL": None,
        "SEATBOT_WEBHOOK_SECRET": None,
    }


def test_a_webhook_url_with_credentials_is_refused_in_one_line_without_the_password(
    run_seatbot: RunSeatbot, cli_env: dict[str, str | None], tmp_path: Path
) -> None:
    @settings(max_examples=25, deadline=None)
    @given(url=urls_with_userinfo())
    def refused(url: str) -> None:
        file = accounts_yaml(tmp_path, url, SECRET)
        loaded = run_seatbot(["load", str(file)], cli_env)
        assert (loaded.returncode, loaded.stdout) == (2, "")
        assert loaded.stderr == (
            f"seatbot: {file}: line 7: accounts[0].billing_webhook.url: {CREDENTIALS_PROBLEM}\n"
        )
        default = {**cli_env, "SEATBOT_WEBHOOK_URL": url, "SEATBOT_WEBHOOK_SECRET": SECRET}
        tested = run_seatbot(["webhooks", "test", "hooked"], default)
        assert (tested.returncode, tested.stdout) == (2, "")
        assert tested.stderr == f"seatbot: SEATBOT_WEBHOOK_URL: {CREDENTIALS_PROBLEM}\n"
        assert PASSWORD not in loaded.stderr + tested.stderr  # what the exact lines above imply

    refused()


@pytest.mark.parametrize("url", [*UNPARSABLE, 'https://b.example.com/h?t=ab"c', "http://0x7f.1/"])
def test_a_webhook_url_that_cannot_be_sent_as_written_is_refused_in_one_line(
    run_seatbot: RunSeatbot, cli_env: dict[str, str | None], tmp_path: Path, url: str
) -> None:
    file = accounts_yaml(tmp_path, url, SECRET)
    loaded = run_seatbot(["load", str(file)], cli_env)
    problem = webhook_url_problem(url)
    assert problem is not None
    assert (loaded.returncode, loaded.stdout) == (2, "")
    assert loaded.stderr == f"seatbot: {file}: line 7: accounts[0].billing_webhook.url: {problem}\n"
    # From the environment the URL is not quoted back at all.
    default = {**cli_env, "SEATBOT_WEBHOOK_URL": url, "SEATBOT_WEBHOOK_SECRET": SECRET}
    tested = run_seatbot(["webhooks", "test", "hooked"], default)
    assert (tested.returncode, tested.stderr) == (2, f"seatbot: SEATBOT_WEBHOOK_URL: {problem}\n")


def test_a_password_the_rules_cannot_find_is_not_quoted_back(
    run_seatbot: RunSeatbot, cli_env: dict[str, str | None]
) -> None:
    """``pa#ss``: a ``#`` ends the authority, so no user and password are found (the URL is
    refused for its port instead); the refusal names the setting, never the URL, whose shown
    form held ``pa`` and ``ss@b.example.com``."""
    url = "https://user:pa#ss@b.example.com/h"
    default = {**cli_env, "SEATBOT_WEBHOOK_URL": url, "SEATBOT_WEBHOOK_SECRET": SECRET}
    tested = run_seatbot(["webhooks", "test", "hooked"], default)
    assert tested.returncode == 2
    assert tested.stderr == f"seatbot: SEATBOT_WEBHOOK_URL: {webhook_url_problem(url)}\n"
    assert "ss@" not in tested.stderr


def test_the_longest_url_is_stored_whole_and_its_shown_form_fits(
    run_seatbot: RunSeatbot,
    cli_env: dict[str, str | None],
    tmp_path: Path,
    session_factory: sessionmaker[Session],
) -> None:
    """2,000 characters, 1,976 of them "&": its shown form used to show each empty part as
    "…" (3,976 characters), which PostgreSQL refused ("the database at … failed
    (StringDataRightTruncation)", exit 1)."""
    url = "https://b.example.com/h?" + "&" * (MAX_URL_LENGTH - 24)
    loaded = run_seatbot(["load", str(accounts_yaml(tmp_path, url, SECRET))], cli_env)
    assert (loaded.returncode, loaded.stderr) == (0, "")
    assert f"hooked: billing webhook added ({url})" in loaded.stdout  # nothing to hide
    with session_factory() as session:
        assert session.scalars(select(BillingWebhook.url)).all() == [url]


def stored_text(db_url: str, sessions: sessionmaker[Session]) -> str:
    """What the database holds, as text: a SQLite database's files byte for byte (its WAL
    too), else every row of every table."""
    if db_url.startswith("sqlite:///"):
        path = Path(db_url.removeprefix("sqlite:///"))
        return "".join(
            file.read_bytes().decode("latin-1") for file in path.parent.glob(f"{path.name}*")
        )
    with sessions() as session:
        return repr([session.execute(select(t)).all() for t in Base.metadata.sorted_tables])


async def deliver_once(sessions: sessionmaker[Session], destination: Destination) -> None:
    """One pass of the sender, ``destination`` the default webhook, its host resolving to a
    public address, the receiver answering 500."""

    async def public(host: str, port: int) -> Sequence[str]:
        return ["93.184.216.34"]

    sender = WebhookSender(
        Outbox(sessions, RetrySchedule.of_seconds([3600])),
        sessions,
        TokenCipher([KEY]),
        default=destination,
        transport=httpx.MockTransport(lambda _: httpx.Response(500)),
        guard=DestinationGuard(resolver=public),
    )
    await sender.open()
    try:
        await sender.run_once()
    finally:
        await sender.stop()


def test_a_secret_in_a_webhook_urls_query_is_never_printed_logged_or_stored(
    run_seatbot: RunSeatbot,
    cli_env: dict[str, str | None],
    db_url: str,
    tmp_path: Path,
    seed: Any,
    session_factory: sessionmaker[Session],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Loaded (added, then changed), delivered once (the httpx and sender log lines), listed."""
    acme = seed()  # its events go to the default webhook: the one loaded for ``hooked``
    seats = itertools.count(11)
    cipher = TokenCipher([KEY])
    for name in ("httpx", "bot.webhooks.sender"):
        caplog.set_level(logging.INFO, logger=name)

    @settings(max_examples=20, deadline=None)
    @given(url=urls_with_query_secret())
    def never_shown(url: str) -> None:
        caplog.clear()
        loaded = run_seatbot(["load", str(accounts_yaml(tmp_path, url, SECRET))], cli_env)
        assert (loaded.returncode, loaded.stderr) == (0, "")
        change(session_factory, acme, next(seats))
        with session_factory() as session:
            hooked = session.scalars(select(Account.id).where(Account.name == "hooked")).one()
            destination = destination_for(session, cipher, hooked, None)
        assert destination is not None
        assert destination.url == url  # kept whole, encrypted
        asyncio.run(deliver_once(session_factory, destination))
        assert "://93.184.216.34" in caplog.text  # the delivery was logged
        listed = [run_seatbot(["webhooks", "list", *json], cli_env) for json in ([], ["--json"])]
        assert [done.returncode for done in listed] == [0, 0]
        assert "HTTP 500" in listed[0].stdout
        printed = loaded.stdout + "".join(done.stdout + done.stderr for done in listed)
        assert QUERY_SECRET not in printed
        assert QUERY_SECRET not in caplog.text
        assert QUERY_SECRET not in stored_text(db_url, session_factory)

    never_shown()
