"""Two real ``seatbot serve`` processes on one PostgreSQL database, the Slack stand-in, the
sandbox platforms and a fast clock: each account's digest is posted once per local day, a
missed one late, one more than a day late is skipped; a platform that is down is reported as
unknown while the rest is reported; a digest too long for one message is split validly; the
trend chart is uploaded once per digest, into its thread. And a digest whose first reply Slack
keeps waiting longer than ``SEATBOT_JOB_STALE_SECONDS`` is not taken over and posted twice.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from billing.jobs.rules import JobStatus
from billing.jobs.store import JobClaims
from billing.models import ACCOUNT_CREATED, AuditEvent
from billing.reports.facts import DIGEST_JOB
from billing.reports.service import Reports
from billing.users import Level, PlatformUser, UserListing, UserStatus
from bot.offline.standin import SlackStandIn, start_standin
from bot.offline.standin.slack_api import serve_asgi
from platforms.sandbox import Fault, SandboxApp, SandboxConfig

BOT_TOKEN = "xoxb-reports-e2e"
TEAM = "T0ACME001"
START = datetime(2026, 11, 29, 5, 0, tzinfo=UTC)
SPEED = 1200  # 20 simulated minutes a second

ACCOUNTS = """
accounts:
  - name: acme
    display_name: Acme Telecom Ltd
    currency: USD
    timezone: Europe/London
    slack: {team_id: T0ACME001, channel_id: C0ACMESEATS}
    reports: {digest_at: "09:00"}
    subscriptions:
      - {product: contact_center, seats: 25, unit_price: "30.00", anchor: 2026-01-01}
      - {product: axiom, seats: 12, unit_price: "45.50", anchor: 2026-01-31}
      - {product: matrix, seats: 10, unit_price: "12.00", anchor: 2026-01-01}
    platforms:
      - {product: contact_center, kind: api, base_url: "SANDBOX/t/acme/contact_center",
         options: {token: sandbox-api-key}}
      - {product: axiom, kind: api, base_url: "SANDBOX/t/acme/axiom",
         options: {api_key: sandbox-api-key, login_email: admin@acme.example}}
      - {product: matrix, kind: api, base_url: "SANDBOX/t/acme/matrix",
         options: {token: sandbox-api-key}}
  - name: initech
    currency: KWD
    timezone: Asia/Kuwait
    slack: {team_id: T0ACME001, channel_id: C0INITECH1}
    reports: {digest_at: "08:30"}
    subscriptions:
      - {product: matrix, seats: 3, unit_price: "9.750", interval: annual, anchor: 2026-01-01}
    platforms:
      - {product: matrix, kind: api, base_url: "SANDBOX/t/initech/matrix",
         options: {token: sandbox-api-key}}
"""


def _seatbot(env: dict[str, str], *args: str, **kwargs: Any) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-c", "from bot.cli import main; main()", *args],
        env=env,
        **kwargs,
    )


def _loaded_on(session_factory: sessionmaker[Session], at: datetime) -> None:
    """Date the accounts' first load back to ``at`` (``seatbot load`` ran on the real clock):
    the servers' simulated days after it are owed their digests."""
    with session_factory.begin() as session:
        session.execute(
            update(AuditEvent).where(AuditEvent.action == ACCOUNT_CREATED).values(at=at)
        )


def _history(session_factory: sessionmaker[Session]) -> None:
    """Eight earlier daily runs per account, so that every digest has a chart to upload."""
    reports = Reports(session_factory)
    for days_back in range(8, 0, -1):
        at = START - timedelta(days=days_back)
        results = []
        for target in reports.targets(None, at):
            listings = {}
            for subscription in target.subscriptions:
                users = [
                    PlatformUser(
                        f"h{n}",
                        f"h{n}@example.com",
                        f"H {n}",
                        100 + n,
                        Level.AGENT,
                        UserStatus.ACTIVE,
                        last_active_at=at,
                    )
                    for n in range(subscription.seats - 1)
                ]
                listings[subscription.product] = UserListing.complete(users)
            results.append((target, listings))
        reports.record(results, at, source="test")


async def _until(condition: Any, *, within_s: float, what: str) -> None:
    deadline = time.monotonic() + within_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


def _top_level(standin: SlackStandIn, channel: str) -> list[dict[str, Any]]:
    return [m for m in standin.messages(channel) if not m.get("thread_ts")]


@pytest.mark.slow
@pytest.mark.parametrize(
    "db_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
async def test_two_servers_post_each_digest_once_per_day(
    db_url: str, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    sandbox = SandboxApp(SandboxConfig())
    sandbox.set_account("acme", "contact_center", users=300, seed=7)
    sandbox.set_account("acme", "matrix", users=250, seed=3)
    sandbox.add_fault(Fault(kind="server_error", tenant="acme", product="axiom"))
    sandbox_server = serve_asgi(sandbox)
    accounts = tmp_path / "accounts.yml"
    accounts.write_text(ACCOUNTS.replace("SANDBOX", sandbox_server.url), encoding="utf-8")
    standin = SlackStandIn()
    processes: list[subprocess.Popen[bytes]] = []
    logs = [tmp_path / "serve-1.log", tmp_path / "serve-2.log"]
    async with start_standin(standin) as standin_server:
        standin.add_workspace(TEAM, BOT_TOKEN)
        env = dict(
            os.environ,
            DATABASE_URL=db_url,
            SEATBOT_TOKEN_KEYS=Fernet.generate_key().decode(),
            SLACK_BOT_TOKEN=BOT_TOKEN,
            SLACK_SIGNING_SECRET="reports-e2e-secret",
            SLACK_API_URL=standin_server.api_url,
            SEATBOT_CLOCK_START=START.isoformat(),
            SEATBOT_CLOCK_SPEED=str(SPEED),
            SEATBOT_SCHEDULER_TICK_SECONDS="0.2",
            # 15 simulated minutes pass in under a second here: a post in progress is not a
            # crash until 12 simulated hours.
            SEATBOT_JOB_STALE_SECONDS=str(12 * 3600),
            SEATBOT_SLACK_WORKSPACE_PER_MINUTE="600",
            SEATBOT_SLACK_WORKSPACE_BURST="10",
            SEATBOT_PLATFORM_DEADLINE_SECONDS="3",
        )
        try:
            loaded = await asyncio.to_thread(
                subprocess.run,
                [sys.executable, "-c", "from bot.cli import main; main()", "load", str(accounts)],
                env=env,
                capture_output=True,
                timeout=60,
            )
            assert loaded.returncode == 0, loaded.stderr.decode()
            _loaded_on(session_factory, START - timedelta(days=9))
            _history(session_factory)
            for log in logs:
                with log.open("wb") as out:
                    processes.append(
                        _seatbot(env, "serve", "--port", "0", stdout=out,
                                 stderr=subprocess.STDOUT)
                    )  # fmt: skip
            claims = JobClaims(session_factory)

            def done(key: str) -> bool:
                run = claims.find(DIGEST_JOB, key)
                return run is not None and run.status is JobStatus.SUCCEEDED

            # acme's 29 November digest is due at 09:00 London = 4 simulated hours after START.
            await _until(
                lambda: done("acme/2026-11-29") and done("initech/2026-11-29"),
                within_s=90,
                what="the 29 November digests",
            )
            for process in processes:
                assert process.poll() is None, "a server stopped"
        finally:
            for process in processes:
                process.terminate()
            for process in processes:
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
            await sandbox_server.stop()
        output = "\n".join(log.read_text(errors="replace") for log in logs)

        runs = {run.run_key: run for run in claims.runs(DIGEST_JOB)}
        # Missed while nothing ran: the 28th posted late, once; the 27th (over a day) skipped.
        for account in ("acme", "initech"):
            assert runs[f"{account}/2026-11-28"].status is JobStatus.SUCCEEDED
            assert runs[f"{account}/2026-11-28"].late
            assert runs[f"{account}/2026-11-27"].status is JobStatus.SKIPPED
            assert runs[f"{account}/2026-11-29"].status is JobStatus.SUCCEEDED
        assert not runs["acme/2026-11-29"].late  # due 4 simulated hours after the start
        assert "Skipped the digest acme/2026-11-27" in output

        # Exactly one digest per account per day, in the account's own channel.
        acme_digests = _top_level(standin, "C0ACMESEATS")
        initech_digests = _top_level(standin, "C0INITECH1")
        assert len(acme_digests) == 2, output
        assert len(initech_digests) == 2, output
        assert all(m["text"].startswith("Seat usage for Acme Telecom Ltd") for m in acme_digests)
        assert all(m["text"].startswith("Seat usage for initech") for m in initech_digests)
        assert {runs["acme/2026-11-28"].message_ts, runs["acme/2026-11-29"].message_ts} == {
            m["ts"] for m in acme_digests
        }

        # The platform that is down is unknown, with its reason; the rest is reported.
        latest = acme_digests[-1]
        text = str(latest["blocks"])
        assert "*Axiom* · 12 seats · users *unknown*" in text
        assert "*Contact Center* · 25 seats · 300 users" in text
        assert "*Matrix* · 10 seats · 250 users" in text
        assert "could not be read" in text
        # The next invoice at today's seats, in London's days: Axiom, anchored on 31 Jan, renews
        # on 30 Nov (the month's last day); the others on 1 Dec. Kuwait's yearly Matrix: 1 Jan.
        assert "• *Axiom*: $546.00 on 30 Nov 2026 — 12 seats × $45.50 a month" in text
        assert "• *Contact Center*: $750.00 on 1 Dec 2026 — 25 seats × $30.00 a month" in text
        assert "• *Matrix*: $120.00 on 1 Dec 2026 — 10 seats × $12.00 a month" in text
        assert (
            "• *Matrix*: KWD\u00a029.250 on 1 Jan 2027 — 3 seats × KWD\u00a09.750 a year"
            in json.dumps(initech_digests[-1]["blocks"], ensure_ascii=False)
        )

        # Too long for one message: the thread is split into valid messages of ≤ 50 blocks.
        thread = [m for m in standin.messages("C0ACMESEATS") if m.get("thread_ts") == latest["ts"]]
        assert len(thread) >= 2
        assert all(len(m["blocks"]) <= 50 for m in thread)
        assert "(part 1 of" in thread[0]["text"]
        assert standin.violations == []

        # The chart: one upload per digest, shared once, into that digest's thread.
        files = [f for f in standin.files() if f["title"] is not None]
        assert len(files) == 4
        shared = sorted((f["shares"][0]["channel"], f["shares"][0]["thread_ts"]) for f in files)
        assert shared == sorted(
            [("C0ACMESEATS", m["ts"]) for m in acme_digests]
            + [("C0INITECH1", m["ts"]) for m in initech_digests]
        )
        assert all(
            len(f["shares"]) == 1 and f["content"][:8] == b"\x89PNG\r\n\x1a\n" for f in files
        )


class HeldReply:
    """The stand-in's ASGI app, holding the first threaded ``chat.postMessage`` (the digest's
    first reply) until :attr:`release` is set: Slack is slow for whoever posts it."""

    def __init__(self, app: Any) -> None:
        self._app = app
        self._held = False
        self.reached = asyncio.Event()
        self.release = asyncio.Event()
        self.answered = asyncio.Event()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not scope["path"].endswith("/chat.postMessage"):
            await self._app(scope, receive, send)
            return
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        hold = not self._held and b'"thread_ts"' in body
        if hold:
            self._held = True
            self.reached.set()
            await self.release.wait()
        replayed = False

        async def replay() -> Any:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self._app(scope, replay, send)
        if hold:
            self.answered.set()


#: A claim not renewed for this long (real seconds here) is taken for a crashed process's.
STALE_S = 6

ONE_ACCOUNT = """
accounts:
  - name: acme
    display_name: Acme Telecom Ltd
    currency: USD
    timezone: Europe/London
    slack: {team_id: T0ACME001, channel_id: C0ACMESEATS}
    reports: {digest_at: "09:00"}
    subscriptions:
      - {product: matrix, seats: 45, unit_price: "12.00", anchor: 2026-01-01}
    platforms:
      - {product: matrix, kind: api, base_url: "SANDBOX/t/acme/matrix",
         options: {token: sandbox-api-key}}
"""


@pytest.mark.slow
@pytest.mark.parametrize(
    "db_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
async def test_a_digest_slow_in_slack_past_stale_after_is_posted_once(
    db_url: str, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    """Slack keeps the digest's first reply waiting three times ``SEATBOT_JOB_STALE_SECONDS``:
    the replica posting it is alive and renews its claim, so the other never takes it over and
    re-posts the thread (it used to: two "Idle users holding seats…" replies under one digest)."""
    sandbox = SandboxApp(SandboxConfig())
    sandbox.set_account("acme", "matrix", users=40, seed=3)
    sandbox_server = serve_asgi(sandbox)
    accounts = tmp_path / "accounts.yml"
    accounts.write_text(ONE_ACCOUNT.replace("SANDBOX", sandbox_server.url), encoding="utf-8")
    standin = SlackStandIn()
    standin.add_workspace(TEAM, BOT_TOKEN)
    held = HeldReply(standin.asgi_app)
    slack = serve_asgi(held)
    standin.base_url = slack.url
    processes: list[subprocess.Popen[bytes]] = []
    logs = [tmp_path / "serve-1.log", tmp_path / "serve-2.log"]
    env = dict(
        os.environ,
        DATABASE_URL=db_url,
        SEATBOT_TOKEN_KEYS=Fernet.generate_key().decode(),
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET="reports-e2e-secret",
        SLACK_API_URL=f"{slack.url}/api/",
        # Real time from half a minute after acme's 09:00 (London) digest was due.
        SEATBOT_CLOCK_START="2026-11-29T09:00:30+00:00",
        SEATBOT_CLOCK_SPEED="1",
        SEATBOT_SCHEDULER_TICK_SECONDS="0.2",
        SEATBOT_JOB_STALE_SECONDS=str(STALE_S),
        SEATBOT_SHUTDOWN_DEADLINE_SECONDS="5",
    )
    claims = JobClaims(session_factory)
    try:
        loaded = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-c", "from bot.cli import main; main()", "load", str(accounts)],
            env=env,
            capture_output=True,
            timeout=60,
        )
        assert loaded.returncode == 0, loaded.stderr.decode()
        _loaded_on(session_factory, datetime(2026, 11, 28, tzinfo=UTC))
        for log in logs:
            with log.open("wb") as out:
                processes.append(
                    _seatbot(env, "serve", "--port", "0", stdout=out,
                             stderr=subprocess.STDOUT)
                )  # fmt: skip
        await asyncio.wait_for(held.reached.wait(), timeout=90)
        held_since = time.monotonic()

        def thread_replies() -> list[dict[str, Any]]:
            return [m for m in standin.messages("C0ACMESEATS") if m.get("thread_ts")]

        # Slack stays slow for three times stale_after, unless the other replica takes the
        # digest over and posts the thread meanwhile (what this test exists to catch).
        await _until(
            lambda: bool(thread_replies()) or time.monotonic() - held_since > 3 * STALE_S,
            within_s=60,
            what="Slack's slow answer",
        )
        held.release.set()
        await asyncio.wait_for(held.answered.wait(), timeout=30)

        def done() -> bool:
            run = claims.find(DIGEST_JOB, "acme/2026-11-29")
            return run is not None and run.status is JobStatus.SUCCEEDED

        await _until(done, within_s=60, what="the digest")
        for process in processes:
            assert process.poll() is None, "a server stopped"
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        await sandbox_server.stop()
        await slack.stop()
    output = "\n".join(log.read_text(errors="replace") for log in logs)
    [digest] = _top_level(standin, "C0ACMESEATS")
    replies = [m for m in thread_replies() if m["thread_ts"] == digest["ts"]]
    held_by = [m for m in replies if m["text"].startswith("Idle users holding seats")]
    assert len(held_by) == 1, output
    run = claims.find(DIGEST_JOB, "acme/2026-11-29")
    assert run is not None
    assert run.attempts == 1, output  # never taken over
    assert run.detail["thread"] == [m["ts"] for m in replies]
    checked = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-c", "from bot.cli import main; main()", "check"],
        env=env,
        capture_output=True,
        timeout=60,
    )
    assert checked.returncode == 0, checked.stdout.decode() + checked.stderr.decode()


@pytest.mark.slow
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_a_newly_loaded_account_stays_quiet_until_its_first_digest_time(
    db_url: str, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    """Loaded today, an hour after its digest time: ``seatbot serve``'s first start posts
    nothing late and skips nothing (no digest for a time before the account existed); the first
    digest is the one due after loading."""
    loaded_at = datetime.now(UTC)
    london = loaded_at.astimezone(ZoneInfo("Europe/London"))
    digest_at = (london - timedelta(hours=1)).strftime("%H:%M")
    sandbox = SandboxApp(SandboxConfig())
    sandbox_server = serve_asgi(sandbox)
    accounts = tmp_path / "accounts.yml"
    text = ONE_ACCOUNT.replace("SANDBOX", sandbox_server.url).replace("09:00", digest_at)
    assert digest_at in text
    accounts.write_text(text, encoding="utf-8")
    standin = SlackStandIn()
    log = tmp_path / "serve.log"
    process: subprocess.Popen[bytes] | None = None
    async with start_standin(standin) as standin_server:
        standin.add_workspace(TEAM, BOT_TOKEN)
        env = dict(
            os.environ,
            DATABASE_URL=db_url,
            SLACK_BOT_TOKEN=BOT_TOKEN,
            SLACK_SIGNING_SECRET="reports-e2e-secret",
            SLACK_API_URL=standin_server.api_url,
            # From the real now, an hour a second: tomorrow's digest comes in under 30 s.
            SEATBOT_CLOCK_START=loaded_at.isoformat(),
            SEATBOT_CLOCK_SPEED="3600",
            SEATBOT_SCHEDULER_TICK_SECONDS="0.2",
            SEATBOT_JOB_STALE_SECONDS=str(48 * 3600),
        )
        claims = JobClaims(session_factory)
        try:
            loaded = await asyncio.to_thread(
                subprocess.run,
                [sys.executable, "-c", "from bot.cli import main; main()", "load", str(accounts)],
                env=env,
                capture_output=True,
                timeout=60,
            )
            assert loaded.returncode == 0, loaded.stderr.decode()
            with log.open("wb") as out:
                process = _seatbot(
                    env, "serve", "--port", "0", stdout=out, stderr=subprocess.STDOUT
                )
            await _until(
                lambda: any(r.status is JobStatus.SUCCEEDED for r in claims.runs(DIGEST_JOB)),
                within_s=90,
                what="the first digest after loading",
            )
            assert process.poll() is None, "the server stopped"
        finally:
            if process is not None:
                process.terminate()
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
            await sandbox_server.stop()
    output = log.read_text(errors="replace")
    # The last digest time before loading was on ``last_day``; the first after it, a day later.
    last_day = (london - timedelta(hours=1)).date()
    runs = {run.run_key: run for run in claims.runs(DIGEST_JOB)}
    for back in range(3):
        assert f"acme/{(last_day - timedelta(days=back)).isoformat()}" not in runs, output
    first = runs[f"acme/{(last_day + timedelta(days=1)).isoformat()}"]
    assert first.status is JobStatus.SUCCEEDED
    assert not first.late
    assert "Skipped the digest" not in output
    assert len(_top_level(standin, "C0ACMESEATS")) == len(
        [r for r in runs.values() if r.status is JobStatus.SUCCEEDED]
    )
