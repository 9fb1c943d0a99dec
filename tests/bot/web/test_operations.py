"""What an operator sees of a running app: /readyz, /metrics, request ids in the logs and in
the apology, JSON log lines, and a stop on SIGTERM that exits 0."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from deploy_harness import listening_port
from pydantic import SecretStr
from slack_bolt.async_app import AsyncApp
from slack_harness import serve_seatbot

from bot.runtime.db import head_revision, upgrade
from bot.runtime.logging_setup import (
    ProbeAccessFilter,
    QueryStringRedactor,
    SecretRedactor,
    configure_logging,
)
from bot.runtime.settings import Settings
from bot.runtime.wiring import build_runtime
from bot.web.metrics import Metrics, outcome_label, series_names
from handlers.deps import HandlerDeps
from handlers.request_ids import RequestScope, begin_request, current_request_id, end_request

SIGNING_SECRET = "operations-signing-secret"
BOT_TOKEN = "xoxb-operations-000-token"
TOKEN_KEY = "0Yjc4mZ3kAs1WwXyvoV8v6l0hZBzXnC1Q2tY3u4s5Pw="
ROOT = Path(__file__).resolve().parents[3]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _settings(url: str, **extra: Any) -> Settings:
    return Settings(
        database_url=url,
        slack_signing_secret=SecretStr(SIGNING_SECRET),
        slack_bot_token=SecretStr(BOT_TOKEN),
        **extra,
    )


def _no_listeners(app: AsyncApp, deps: HandlerDeps) -> None:
    """Registers nothing."""


async def _get(settings: Settings, path: str) -> httpx.Response:
    runtime = build_runtime(settings, register=_no_listeners)
    transport = httpx.ASGITransport(app=runtime.asgi_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://seatbot") as http:
        return await http.get(path)


# ---------------------------------------------------------------- /readyz


async def test_ready_when_the_database_is_migrated_and_no_scheduler_is_asked_for(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'ready.db'}"
    upgrade(url)
    response = await _get(_settings(url, seatbot_scheduler=False), "/readyz")
    assert response.status_code == 200
    assert response.json() == {"ready": True}


async def test_not_ready_while_the_scheduler_is_not_running(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ready.db'}"
    upgrade(url)
    # ASGITransport runs no lifespan: the scheduler never started.
    response = await _get(_settings(url), "/readyz")
    assert response.status_code == 503
    assert response.json()["reasons"] == ["the scheduler is not running"]


async def test_not_ready_on_an_old_schema(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, "0001_initial")
    response = await _get(_settings(url, seatbot_scheduler=False), "/readyz")
    assert response.status_code == 503
    [reason] = response.json()["reasons"]
    assert "0001_initial" in reason
    assert "seatbot db upgrade" in reason


async def test_not_ready_on_a_schema_newer_than_this_replica(tmp_path: Path) -> None:
    """A replica of the old version after `seatbot db upgrade` ran with the new one: replacing
    the replica is the fix, not running the upgrade again."""
    url = f"sqlite:///{tmp_path / 'newer.db'}"
    upgrade(url)
    with sqlite3.connect(tmp_path / "newer.db") as connection:
        connection.execute("UPDATE alembic_version SET version_num = '0099_from_a_newer_seatbot'")
    response = await _get(_settings(url, seatbot_scheduler=False), "/readyz")
    assert response.status_code == 503
    assert response.json()["reasons"] == [
        "the database schema is at 0099_from_a_newer_seatbot, newer than this replica knows "
        f"(its newest is {head_revision()}): replace it with the version that upgraded the schema"
    ]


async def test_not_ready_when_the_database_server_cannot_be_reached() -> None:
    url = f"postgresql+psycopg://seatbot:pw-never-shown@127.0.0.1:{_free_port()}/seatbot"
    response = await _get(
        _settings(url, seatbot_scheduler=False, seatbot_token_keys=SecretStr(TOKEN_KEY)),
        "/readyz",
    )
    assert response.status_code == 503
    [reason] = response.json()["reasons"]
    assert "cannot connect to the database server at 127.0.0.1" in reason
    assert "pw-never-shown" not in response.text


async def test_healthz_stays_alive_when_not_ready(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'blank.db'}"
    assert (await _get(_settings(url, seatbot_scheduler=False), "/healthz")).status_code == 200
    assert (await _get(_settings(url, seatbot_scheduler=False), "/readyz")).status_code == 503


# ---------------------------------------------------------------- /metrics


async def test_metrics_are_served_in_prometheus_text(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'metrics.db'}"
    upgrade(url)
    response = await _get(_settings(url), "/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    names = series_names(response.text)
    # Known label sets exist at 0 before any traffic.
    assert "seatbot_slack_requests_total" in names
    assert "seatbot_webhook_deliveries_total" in names
    assert "seatbot_webhook_backlog" in names
    assert 'seatbot_slack_requests_total{kind="slash_command",outcome="ok"} 0.0' in response.text


def test_outcomes_are_labelled_in_snake_case_and_applied_changes_counted() -> None:
    class ChangeApplied:
        pass

    class AwaitingApproval:
        pass

    metrics = Metrics()
    assert outcome_label(ChangeApplied()) == "change_applied"
    metrics.change_step("confirm", ChangeApplied())
    metrics.change_step("approve", ChangeApplied())
    metrics.change_step("confirm", AwaitingApproval())
    body, _ = metrics.exposition(None)
    text = body.decode()
    assert 'seatbot_changes_applied_total{via="confirm"} 1.0' in text
    assert 'seatbot_changes_applied_total{via="approval"} 1.0' in text
    assert (
        'seatbot_seat_change_outcomes_total{outcome="awaiting_approval",step="confirm"} 1.0' in text
    )


def test_openmetrics_when_asked_for() -> None:
    body, content_type = Metrics().exposition("application/openmetrics-text; version=1.0.0")
    assert content_type.startswith("application/openmetrics-text")
    assert body.decode().rstrip().endswith("# EOF")


@pytest.mark.slow
def test_several_processes_add_up_in_multiprocess_mode(tmp_path: Path) -> None:
    """With PROMETHEUS_MULTIPROC_DIR, what two processes counted is served as one sum."""
    folder = tmp_path / "prom"
    folder.mkdir()
    env = dict(os.environ, PROMETHEUS_MULTIPROC_DIR=str(folder))
    count = (
        "from bot.web.metrics import Metrics; m = Metrics(); m.slack_request('block_actions', 'ok')"
    )
    for _ in range(2):
        subprocess.run([sys.executable, "-c", count], env=env, cwd=ROOT, check=True)
    show = "from bot.web.metrics import Metrics; print(Metrics().exposition(None)[0].decode())"
    shown = subprocess.run(
        [sys.executable, "-c", show], env=env, cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout
    assert 'seatbot_slack_requests_total{kind="block_actions",outcome="ok"} 2.0' in shown


# ---------------------------------------------------------------- request ids and logs


@pytest.fixture
def json_logs() -> Iterator[io.StringIO]:
    """``configure_logging`` in JSON mode into a buffer (undone afterwards)."""
    stream = io.StringIO()
    root = logging.getLogger()
    before_handlers, before_level = list(root.handlers), root.level
    settings = Settings(
        slack_bot_token=SecretStr(BOT_TOKEN),
        slack_signing_secret=SecretStr(SIGNING_SECRET),
        seatbot_log_format="json",
        seatbot_log_level="info",
    )
    configure_logging(settings, stream=stream)
    try:
        yield stream
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


def _lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def test_json_lines_carry_level_logger_message_and_request_id(json_logs: io.StringIO) -> None:
    log = logging.getLogger("tests.json")
    log.debug("below the level")
    token = begin_request(RequestScope(request_id="abc123abc123"))
    try:
        log.info("inside with %s", BOT_TOKEN)
    finally:
        end_request(token)
    log.warning("outside")
    inside, outside = _lines(json_logs)
    assert inside["level"] == "INFO"
    assert inside["logger"] == "tests.json"
    assert inside["message"] == "inside with [redacted]"
    assert inside["request_id"] == "abc123abc123"
    assert inside["time"].endswith("+00:00")
    assert "request_id" not in outside


class Exploding:
    """``/seats``: logs on the event loop, logs in a worker thread, then fails after the ack."""

    def register(self, app: AsyncApp, deps: HandlerDeps) -> None:
        app.command("/seats")(self.on_seats)

    async def on_seats(self, ack: Any) -> None:
        await ack()
        log = logging.getLogger("tests.exploding")
        log.info("on the loop")
        await asyncio.to_thread(log.info, "in a worker thread")
        raise RuntimeError("boom")


async def test_one_request_id_in_every_line_and_in_the_apology(
    tmp_path: Path, json_logs: io.StringIO
) -> None:
    settings = _settings(f"sqlite:///{tmp_path / 'ids.db'}", seatbot_scheduler=False)
    listener = Exploding()
    async with serve_seatbot(settings, register=listener.register) as harness:
        sent = await harness.driver.slash_command("status", user_id="U1", channel_id="C1")
        assert sent.status_code == 200
        [reply] = await harness.standin.wait_for("response_url", within_s=10)
        metrics = (await harness.driver.http.get(f"{harness.app_url}/metrics")).text
    reference = str(reply.args["text"]).split("`")[1]
    lines = [line for line in _lines(json_logs) if line.get("request_id") == reference]
    said = [line["message"] for line in lines]
    assert "on the loop" in said
    assert "in a worker thread" in said
    [error] = [line for line in lines if line["level"] == "ERROR"]
    assert "RuntimeError: boom" in error["exception"]
    assert current_request_id() is None
    # The failed request is counted as an error, with its ack and full-answer times.
    assert 'seatbot_slack_requests_total{kind="slash_command",outcome="error"} 1.0' in metrics
    assert 'seatbot_slack_full_answer_seconds_count{kind="slash_command"} 1.0' in metrics
    assert 'seatbot_slack_ack_seconds_count{kind="slash_command"} 1.0' in metrics


def test_log_settings_are_checked() -> None:
    from billing.errors import ConfigurationError
    from bot.runtime.settings import load_settings

    os.environ["SEATBOT_LOG_FORMAT"] = "xml"
    try:
        with pytest.raises(
            ConfigurationError, match="SEATBOT_LOG_FORMAT: 'xml' is not text or json"
        ):
            load_settings()
    finally:
        del os.environ["SEATBOT_LOG_FORMAT"]
    assert Settings(seatbot_log_level="debug").seatbot_log_level == "DEBUG"
    assert Settings(seatbot_log_format="JSON").seatbot_log_format == "json"


# ---------------------------------------------------------------- stopping


def _serve(tmp_path: Path, **env: str) -> subprocess.Popen[bytes]:
    url = f"sqlite:///{tmp_path / 'serve.db'}"
    environ = {k: v for k, v in os.environ.items() if not k.upper().startswith("SLACK_")}
    environ.update(
        DATABASE_URL=url,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_API_URL="http://127.0.0.1:9/api/",
        **env,
    )
    with (tmp_path / "serve.log").open("wb") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "serve", "--host", "127.0.0.1", "--port", "0"],
            env=environ,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def _wait_for(url: str, status: int, within_s: float = 60.0) -> httpx.Response:
    deadline = time.monotonic() + within_s
    while True:
        try:
            response = httpx.get(url, timeout=2.0)
            if response.status_code == status:
                return response
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url} never answered {status}")
        time.sleep(0.05)


@pytest.mark.slow
def test_sigterm_turns_readyz_to_503_then_exits_0(tmp_path: Path) -> None:
    process = _serve(tmp_path, SEATBOT_SHUTDOWN_DRAIN_SECONDS="3")
    try:
        port = listening_port(process, tmp_path / "serve.log")
        _wait_for(f"http://127.0.0.1:{port}/readyz", 200)
        process.send_signal(signal.SIGTERM)
        # During the drain it still serves, and says it is not ready.
        refused = _wait_for(f"http://127.0.0.1:{port}/readyz", 503, within_s=2.5)
        assert "shutting down" in refused.json()["reasons"]
        assert process.wait(timeout=60) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    log = (tmp_path / "serve.log").read_text(errors="replace")
    assert "Shut down in" in log
    assert "Traceback" not in log


def test_successful_probes_are_left_out_of_the_access_log() -> None:
    probe = ProbeAccessFilter()

    def line(path: str, status: int) -> logging.LogRecord:
        return logging.LogRecord(
            "uvicorn.access", logging.INFO, "", 0, '%s - "%s %s HTTP/%s" %d',
            ("127.0.0.1:1", "GET", path, "1.1", status), None,
        )  # fmt: skip

    assert not probe.filter(line("/readyz", 200))
    assert not probe.filter(line("/metrics", 200))
    assert probe.filter(line("/readyz", 503))
    assert probe.filter(line("/slack/events", 200))
