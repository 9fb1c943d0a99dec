"""``seatbot webhooks list|retry|test|listen|new-secret``: what they print, their one-line
errors and exit statuses; ``listen`` and ``test`` against each other, as real processes."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from outbox_helpers import change, outbox_rows, store_webhook
from sqlalchemy.orm import Session, sessionmaker
from webhook_urls import UNPARSABLE, accounts_yaml

from billing.events import webhook_url_problem
from billing.events.rules import RetrySchedule
from billing.events.service import Outbox
from billing.formatting import shown_url
from bot.cli import run
from bot.runtime.secrets import TokenCipher
from bot.webhooks.config import is_webhook_secret, new_webhook_secret
from bot.webhooks.delivery import signed_headers

ROOT = Path(__file__).resolve().parents[3]
KEY = TokenCipher.new_key()
SECRET = new_webhook_secret()


@pytest.fixture
def env(db_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("SEATBOT_TOKEN_KEYS", KEY)
    for name in ("SEATBOT_WEBHOOK_URL", "SEATBOT_WEBHOOK_SECRET"):
        monkeypatch.delenv(name, raising=False)
    return db_url


def seatbot(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    status = run(args)
    out, err = capsys.readouterr()
    return status, out, err


def test_list_and_retry(
    env: str, session_factory: sessionmaker[Session], seed: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    assert seatbot(["webhooks", "list"], capsys)[1] == "no events in the outbox yet\n"
    acme = seed()
    change(session_factory, acme, 12)
    change(session_factory, acme, 14)
    outbox = Outbox(session_factory, RetrySchedule.of_seconds([]))
    first, second = (row.id for row in outbox_rows(session_factory))
    claimed = outbox.claim(first, datetime.now(UTC), timedelta(seconds=30))
    assert claimed is not None
    assert outbox.attempt_failed(claimed, "HTTP 500", datetime.now(UTC)).failed

    status, out, err = seatbot(["webhooks", "list"], capsys)
    assert (status, err) == (0, "")
    assert "seat_change.applied" in out
    assert "failed" in out
    assert "HTTP 500" in out, out
    status, out, _ = seatbot(["webhooks", "list", "--failed", "--json"], capsys)
    [failed] = json.loads(out)["events"]
    assert (failed["id"], failed["status"], failed["attempts"]) == (first, "failed", 1)
    assert failed["event"]["data"]["to_seats"] == 12
    assert failed["event"]["data"]["net"] == "30.97"
    everything = json.loads(seatbot(["webhooks", "list", "--json"], capsys)[1])["events"]
    assert [event["id"] for event in everything] == [second, first]  # newest first

    for args, message in (
        (["webhooks", "retry"], "seatbot: give one event ID, or --all-failed (not both)\n"),
        (
            ["webhooks", "retry", "7", "--all-failed"],
            "seatbot: give one event ID, or --all-failed (not both)\n",
        ),
        (
            ["webhooks", "retry", "msg_nope"],
            "seatbot: no outbox event 'msg_nope' (an id or a webhook-id from "
            "`seatbot webhooks list`)\n",
        ),
    ):
        assert seatbot(args, capsys) == (2, "", message)

    status, out, err = seatbot(["webhooks", "retry", failed["webhook_id"]], capsys)
    assert (status, err) == (0, "")
    assert out.startswith(f"event {first} (seat_change.applied, {failed['webhook_id']}) queued")
    assert seatbot(["webhooks", "retry", "--all-failed"], capsys)[1].startswith(
        "0 failed event(s) queued again"
    )
    assert json.loads(seatbot(["webhooks", "list", "--failed", "--json"], capsys)[1]) == {
        "events": []
    }


@pytest.fixture
def listener(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[str], Path]]:
    """``seatbot webhooks listen`` as a process on a port the system chooses (its banner says
    which); its URL, the process and its output file."""
    output = tmp_path / "listen.out"
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("SEATBOT_WEBHOOK")}
    env["SEATBOT_WEBHOOK_SECRET"] = SECRET  # the default for --secret
    with output.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "webhooks", "listen", "--port", "0"],
            env=env,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
        )
    deadline = time.monotonic() + 30
    while not (banner := re.search(r"listening on (http://127\.0\.0\.1:\d+)/", output.read_text())):
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(output.read_text())
        time.sleep(0.05)
    url = f"{banner.group(1)}/hooks/seatbot"
    try:
        yield url, process, output
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=20)


@pytest.mark.slow
def test_test_sends_a_ping_that_listen_verifies(
    env: str,
    session_factory: sessionmaker[Session],
    seed: Any,
    capsys: pytest.CaptureFixture[str],
    listener: tuple[str, subprocess.Popen[str], Path],
) -> None:
    url, process, output = listener
    acme = seed()
    assert seatbot(["webhooks", "test", "acme"], capsys) == (
        2,
        "",
        "seatbot: acme has no billing webhook: add billing_webhook to the accounts file "
        "(`seatbot load`) or set SEATBOT_WEBHOOK_URL and SEATBOT_WEBHOOK_SECRET\n",
    )
    # The receiver is on loopback.
    store_webhook(
        session_factory, acme.account_id, url, SECRET, TokenCipher([KEY]), allow_private=True
    )

    status, out, err = seatbot(["webhooks", "test", "acme"], capsys)
    assert (status, err) == (0, "")
    assert out.startswith(f"ping delivered to {url}: HTTP 204 in ")
    assert SECRET not in out

    body = '{"type":"ping","timestamp":"x","data":{}}'
    headers = signed_headers(SECRET, "msg_forged", body, datetime.now(UTC))
    forged = httpx.post(url, content=body.replace("ping", "pong"), headers=headers)
    assert forged.status_code == 400
    process.terminate()
    process.wait(timeout=20)
    printed = output.read_text()
    assert "verified: ping · msg_ping_" in printed
    assert '"account": "acme"' in printed
    assert "rejected: not verified: No matching signature found" in printed

    # The receiver is gone: the ping fails, in one line, with status 1.
    status, out, err = seatbot(["webhooks", "test", "acme"], capsys)
    assert status == 1
    assert err == (
        f"seatbot: the ping to {url} failed: could not connect (refused, or no such host)\n"
    )


def test_listen_refuses_a_bad_secret_and_a_taken_port(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SEATBOT_WEBHOOK_SECRET", raising=False)
    status, _, err = seatbot(["webhooks", "listen", "--secret", "whsec_short-secret"], capsys)
    assert status == 2
    assert err.startswith("seatbot: --secret is not a Standard Webhooks secret")
    assert "short-secret" not in err
    assert seatbot(["webhooks", "listen"], capsys)[2] == (
        "seatbot: --secret is required (or set SEATBOT_WEBHOOK_SECRET)\n"
    )
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        status, _, err = seatbot(
            ["webhooks", "listen", "--port", str(port), "--secret", SECRET], capsys
        )
    assert status == 1
    assert err == f"seatbot: cannot listen on 127.0.0.1:{port} (port {port} is already in use)\n"


def test_new_secret(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = seatbot(["webhooks", "new-secret"], capsys)
    assert status == 0
    assert is_webhook_secret(out.strip())


def test_serve_refuses_a_bad_default_webhook_before_touching_the_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    database = tmp_path / "never.db"
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{database}")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "serve-signing-secret")
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-serve-test")
    monkeypatch.setenv("SEATBOT_WEBHOOK_URL", "https://billing.example.com/hooks")
    monkeypatch.setenv("SEATBOT_WEBHOOK_SECRET", "whsec_not-really-a-secret")
    status, _, err = seatbot(["serve"], capsys)
    assert status == 2
    assert err.startswith("seatbot: SEATBOT_WEBHOOK_SECRET: is not a Standard Webhooks secret")
    assert "not-really" not in err
    assert len(err.splitlines()) == 1
    assert not database.exists()
    monkeypatch.setenv("SEATBOT_WEBHOOK_SECRET", SECRET)
    monkeypatch.setenv("SEATBOT_WEBHOOK_RETRY_SCHEDULE", "soon")
    status, _, err = seatbot(["serve"], capsys)
    assert status == 2
    assert err.startswith("seatbot: SEATBOT_WEBHOOK_RETRY_SCHEDULE: 'soon' is not a list")
    assert not database.exists()


#: A secret in a webhook URL's query string: never printed by any command.
QUERY_TOKEN = "cli-q-token-9c1d2e3f"


def test_load_refuses_credentials_in_a_webhook_url_in_one_line_without_the_password(
    env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = accounts_yaml(tmp_path, "https://billing:hunter2pass@b.example.com/hooks", SECRET)
    status, out, err = seatbot(["load", str(file)], capsys)
    assert status == 2
    assert out == ""
    assert err == (
        f"seatbot: {file}: line 7: accounts[0].billing_webhook.url: holds a user name or "
        "password before the host (user:password@…): put no credentials in the URL; the "
        "receiver checks each event's signature instead\n"
    )
    assert "hunter2pass" not in out + err


def test_no_command_prints_a_query_value_of_a_webhook_url(
    env: str,
    tmp_path: Path,
    session_factory: sessionmaker[Session],
    seed: Any,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = f"https://billing.example.com/hooks?token={QUERY_TOKEN}"
    status, out, err = seatbot(["load", str(accounts_yaml(tmp_path, url, SECRET))], capsys)
    assert (status, err) == (0, "")
    assert "hooked: billing webhook added (https://billing.example.com/hooks?token=…)" in out
    assert QUERY_TOKEN not in out

    # The default webhook on loopback, without the operator's opt-in: the ping is refused.
    monkeypatch.setenv("SEATBOT_WEBHOOK_URL", f"http://127.0.0.1:9/h?token={QUERY_TOKEN}")
    monkeypatch.setenv("SEATBOT_WEBHOOK_SECRET", SECRET)
    acme = seed()
    assert seatbot(["webhooks", "test", "acme"], capsys) == (
        1,
        "",
        "seatbot: the ping to http://127.0.0.1:9/h?token=… (the default webhook) failed: "
        "refused: the webhook's host resolves to 127.0.0.1, a loopback address (webhooks go "
        "to public addresses only, unless the operator allows private ones: "
        "allow_private_destinations or SEATBOT_WEBHOOK_ALLOW_PRIVATE)\n",
    )
    # An event whose attempt failed: listed without the URL.
    change(session_factory, acme, 12)
    outbox = Outbox(session_factory, RetrySchedule.of_seconds([60]))
    now = datetime.now(UTC)
    [event_id] = outbox.due(now, account_ids=None, limit=10)
    delivery = outbox.claim(event_id, now, timedelta(seconds=30))
    assert delivery is not None
    outbox.attempt_failed(delivery, "refused: the webhook's host resolves to 127.0.0.1", now)
    for args in (["webhooks", "list"], ["webhooks", "list", "--json"]):
        status, out, err = seatbot(args, capsys)
        assert status == 0
        assert "refused: the webhook's host resolves to 127.0.0.1" in out
        assert QUERY_TOKEN not in out + err


@pytest.mark.parametrize("url", UNPARSABLE)
def test_test_says_in_one_line_why_a_stored_url_cannot_be_sent(
    env: str,
    url: str,
    session_factory: sessionmaker[Session],
    seed: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A webhook stored before ``seatbot load`` refused its URL (it used to say "unexpected
    error (InvalidURL)")."""
    acme = seed()
    store_webhook(session_factory, acme.account_id, url, SECRET, TokenCipher([KEY]))
    assert seatbot(["webhooks", "test", "acme"], capsys) == (
        1,
        "",
        f"seatbot: the ping to {shown_url(url)} failed: refused: the URL "
        f"{webhook_url_problem(url)}\n",
    )
