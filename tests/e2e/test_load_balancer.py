"""Seatbot deployed as an operator deploys it: PostgreSQL, three ``seatbot serve`` replicas and
HAProxy in front of them (:mod:`deploy_harness`), driven through the load balancer with requests
signed as Slack signs them.

* 100 concurrent Confirm clicks on one request apply it once;
* a replica killed with SIGKILL in the middle of a stream: the others carry on, nothing is
  applied twice, ``seatbot check`` is clean;
* a rolling restart (SIGTERM, wait, start again, one replica after the other) during a stream
  of clicks that each wait on a slow platform: every click is answered and applied once, and
  every replica exits 0;
* an approval's reminder, escalation and expiry happen once across the replicas, and
  ``/metrics`` shows every series the operator alerts on;
* ``/readyz`` answers 503 while PostgreSQL is stopped and 200 once it is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from deploy_harness import (
    ROOT,
    LoadBalancer,
    Replica,
    load_balanced,
    private_postgres,
    replica_environment,
    wait_for_status,
)
from seats_stack import connect_sandbox, pending_approval
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from billing.books.service import SeatService
from billing.models import LedgerEntry, SeatChangeRequest
from billing.requests import RequestStatus
from bot.offline.standin import SlackDriver, SlackStandIn, start_standin
from bot.offline.standin.slack_api import serve_asgi
from bot.offline.standin.slack_driver import button
from bot.web.metrics import required_series, series_names
from handlers import ids
from platforms.sandbox import Fault, SandboxApp, SandboxConfig

pytestmark = pytest.mark.slow

ON_POSTGRES = pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
SIGNING_SECRET = "balancer-signing-secret"
BOT_TOKEN = "xoxb-balancer-bot-token"
TOKEN_KEY = "0Yjc4mZ3kAs1WwXyvoV8v6l0hZBzXnC1Q2tY3u4s5Pw="
TEAM = "T_ACME"
CHANNEL = "C_SEATS"


@dataclass
class Deployment:
    standin: SlackStandIn
    replicas: list[Replica]
    balancer: LoadBalancer
    driver: SlackDriver


@contextlib.asynccontextmanager
async def deployed(
    db_url: str, tmp_path: Path, *, replicas: int = 3, **env: str
) -> AsyncIterator[Deployment]:
    """The stand-in in this process; ``replicas`` processes behind HAProxy."""
    standin = SlackStandIn()
    standin.add_workspace(TEAM, BOT_TOKEN)
    async with start_standin(standin) as server:
        environment = replica_environment(
            db_url,
            SLACK_SIGNING_SECRET=SIGNING_SECRET,
            SLACK_BOT_TOKEN=BOT_TOKEN,
            SLACK_API_URL=server.api_url,
            SEATBOT_TOKEN_KEYS=TOKEN_KEY,
            SEATBOT_LOG_FORMAT="json",
            SEATBOT_SHUTDOWN_DEADLINE_SECONDS="10",
            **env,
        )
        with contextlib.ExitStack() as stack:
            started, balancer = await asyncio.to_thread(
                stack.enter_context, load_balanced(replicas, environment, tmp_path)
            )
            driver = SlackDriver(balancer.url, SIGNING_SECRET, standin_url=server.url, team_id=TEAM)
            try:
                yield Deployment(standin, started, balancer, driver)
            finally:
                await driver.aclose()
                await asyncio.to_thread(stack.close)


def _buttons(args: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for block in args.get("blocks") or []:
        if block.get("type") == "actions":
            for element in block["elements"]:
                found[element["action_id"]] = element
    return found


async def _prompt(d: Deployment, text: str) -> str:
    """``/seats text`` through the balancer; the value of the Confirm button it offers."""
    sent = await d.driver.slash_command(text, user_id="U_OWNER", channel_id=CHANNEL)
    assert sent.status_code == 200, sent.text
    key = str(sent.response_url).rsplit("/", 1)[-1]
    [reply] = await d.standin.wait_for(
        "response_url", within_s=30, where=lambda call: call.args["response_url"] == key
    )
    confirm = _buttons(reply.args).get(ids.CONFIRM_ACTION)
    assert confirm is not None, reply.args
    return str(confirm["value"])


async def _click(d: Deployment, value: str) -> tuple[int, str]:
    """Confirm ``value`` through the balancer: the HTTP status and the response URL key."""
    sent = await d.driver.block_action(
        button(ids.CONFIRM_ACTION, value, block_id=ids.PROMPT_ACTIONS_BLOCK),
        user_id="U_OWNER",
        channel_id=CHANNEL,
    )
    return sent.status_code, str(sent.response_url).rsplit("/", 1)[-1]


def _requests(sessions: sessionmaker[Session]) -> dict[int, SeatChangeRequest]:
    with sessions() as session:
        return {r.id: r for r in session.scalars(select(SeatChangeRequest))}


def _ledger_lines(sessions: sessionmaker[Session]) -> dict[int, int]:
    with sessions() as session:
        rows = session.execute(
            select(LedgerEntry.request_id, func.count()).group_by(LedgerEntry.request_id)
        ).all()
    return {int(request_id): int(count) for request_id, count in rows if request_id is not None}


def _seatbot_check(db_url: str) -> subprocess.CompletedProcess[str]:
    env = replica_environment(db_url, SEATBOT_TOKEN_KEYS=TOKEN_KEY)
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "check"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _all_clean(db_url: str, sessions: sessionmaker[Session]) -> None:
    assert SeatService(sessions).check_invariants().violations == ()
    checked = _seatbot_check(db_url)
    assert checked.returncode == 0, checked.stdout + checked.stderr


async def _metrics(replica: Replica) -> str:
    async with httpx.AsyncClient(timeout=10) as http:
        return (await http.get(f"{replica.url}/metrics")).text


def _counter(text: str, series: str) -> float:
    """The value of one labelled sample (``name{labels}``) in an exposition, 0 if absent."""
    for line in text.splitlines():
        if line.startswith(series + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


# ---------------------------------------------------------------- 100 concurrent clicks


@ON_POSTGRES
async def test_a_hundred_concurrent_confirms_through_the_balancer_apply_once(
    db_url: str, seed: Any, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    seed("acme", product="axiom", seats=10, team_id=TEAM)
    async with deployed(db_url, tmp_path) as d:
        value = await _prompt(d, "add 1 axiom")
        clicks = await asyncio.gather(*(_click(d, value) for _ in range(100)))
        assert [status for status, _ in clicks] == [200] * 100
        keys = {key for _, key in clicks}
        replies = await d.standin.wait_for(
            "response_url",
            count=100,
            within_s=120,
            where=lambda call: call.args["response_url"] in keys,
        )
        served = [
            _counter(
                await _metrics(r), 'seatbot_slack_requests_total{kind="block_actions",outcome="ok"}'
            )
            for r in d.replicas
        ]
    [request] = _requests(session_factory).values()
    assert request.status == "applied"
    assert _ledger_lines(session_factory) == {request.id: 2}
    applied = [r for r in replies if "Confirm" not in str(_buttons(r.args))]
    assert len(applied) == 100  # nobody is offered to confirm an applied change again
    # The balancer spread the clicks over every replica.
    assert all(count > 0 for count in served), served
    assert sum(served) == 100
    _all_clean(db_url, session_factory)


# ---------------------------------------------------------------- SIGKILL mid-stream


@ON_POSTGRES
async def test_a_replica_killed_mid_stream_leaves_the_others_serving_and_nothing_twice(
    db_url: str, seed: Any, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    count = 24
    for n in range(count):
        seed(f"acme-{n}", product="axiom", seats=10, team_id=TEAM)
    async with deployed(db_url, tmp_path) as d:
        values = [await _prompt(d, f"add 1 axiom account acme-{n}") for n in range(count)]
        victim = d.replicas[0]
        killed_at: list[float] = []
        after_kill: list[int] = []
        in_flight_lost: list[str] = []

        async def stream() -> None:
            for value in values:
                sent_after_kill = bool(killed_at)
                try:
                    status, _ = await _click(d, value)
                except httpx.TransportError:
                    # The click in flight when its replica died: the balancer may close the
                    # connection with no answer ("SD" in haproxy.log). Slack shows the person an
                    # error and they click again (below). A click sent after the kill is not
                    # excused.
                    if sent_after_kill:
                        raise
                    in_flight_lost.append(value)
                    continue
                if killed_at:
                    after_kill.append(status)
                await asyncio.sleep(0.05)

        streaming = asyncio.create_task(stream())
        await asyncio.sleep(0.4)
        await asyncio.to_thread(victim.kill)
        killed_at.append(time.monotonic())
        await streaming
        assert after_kill, "the stream ended before the kill"
        assert len(in_flight_lost) <= 1  # one click at a time: at most the one in flight
        # Through the balancer, the survivors answered every click sent after the kill.
        assert after_kill == [200] * len(after_kill)
        # What the dead replica left half-done: click each request's current prompt again.
        for request in _requests(session_factory).values():
            if request.status != "applied":
                status, _ = await _click(d, f"{request.id}.{request.quote_revision}")
                assert status == 200
        deadline = time.monotonic() + 60
        while {r.status for r in _requests(session_factory).values()} != {"applied"}:
            assert time.monotonic() < deadline, "some requests were never applied"
            await asyncio.sleep(0.1)
    lines = _ledger_lines(session_factory)
    assert sorted(lines.values()) == [2] * count
    _all_clean(db_url, session_factory)


# ---------------------------------------------------------------- rolling restart


@ON_POSTGRES
@pytest.mark.parametrize("drain_s", ["0", "1.5"])
async def test_a_rolling_restart_during_a_stream_loses_no_request(
    db_url: str, seed: Any, session_factory: sessionmaker[Session], tmp_path: Path, drain_s: str
) -> None:
    """With a drain, the balancer's health check takes a stopping replica out before it
    closes its port; without one, the balancer retries the refused connections elsewhere.
    Either way every listener still working at SIGTERM finishes before the process exits."""
    count = 48
    sandbox = SandboxApp(SandboxConfig(faults=[Fault(kind="latency", ms=300)]))
    sandbox.set_account("acme", "axiom", users=8, seed=1)
    sandbox_server = serve_asgi(sandbox)
    try:
        for n in range(count):
            acme = seed(f"acme-{n}", product="axiom", seats=10, team_id=TEAM)
            connect_sandbox(session_factory, acme.account_id, sandbox_server.url)
        async with deployed(db_url, tmp_path, SEATBOT_SHUTDOWN_DRAIN_SECONDS=drain_s) as d:
            # Decreases: each Confirm lists the platform's users again (300 ms a page).
            prompts = await asyncio.gather(
                *(_prompt(d, f"remove 1 axiom account acme-{n}") for n in range(count))
            )
            exits: list[int] = []

            async def roll() -> None:
                for replica in d.replicas:
                    exits.append(await asyncio.to_thread(replica.terminate))
                    await asyncio.to_thread(replica.start)
                    await asyncio.to_thread(replica.wait_ready)
                    await asyncio.sleep(1.0)  # the balancer's health check sees it up

            async def stream() -> list[tuple[int, str]]:
                sent: list[asyncio.Task[tuple[int, str]]] = []
                for value in prompts:
                    sent.append(asyncio.create_task(_click(d, value)))
                    await asyncio.sleep(0.25)
                return [await task for task in sent]

            rolling = asyncio.create_task(roll())
            clicks = await stream()
            await rolling
            assert exits == [0, 0, 0]
            assert all(r.starts == 2 for r in d.replicas)
            assert [status for status, _ in clicks] == [200] * count
            keys = {key for _, key in clicks}
            await d.standin.wait_for(
                "response_url",
                count=count,
                within_s=120,
                where=lambda call: call.args["response_url"] in keys,
            )
        final = _requests(session_factory)
        assert {r.status for r in final.values()} == {"applied"}
        assert sorted(_ledger_lines(session_factory).values()) == [2] * count
        _all_clean(db_url, session_factory)
        logs = "\n".join(r.log.read_text(errors="replace") for r in d.replicas)
        assert logs.count("Shut down in") >= 3
        assert "still answering" not in logs
    finally:
        await sandbox_server.stop()


# ---------------------------------------------------------------- reminders and /metrics

START = datetime(2026, 1, 16, 9, 0, tzinfo=UTC)


@ON_POSTGRES
async def test_reminders_happen_once_and_metrics_show_every_series(
    db_url: str, seed: Any, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    request_id = pending_approval(seed, session_factory, name="approvals", team=TEAM, at=START)
    sandbox = SandboxApp(SandboxConfig())
    sandbox.set_account("acme", "axiom", users=8, seed=1)
    sandbox_server = serve_asgi(sandbox)
    acme = seed("acme", product="axiom", seats=10, team_id=TEAM)
    connect_sandbox(session_factory, acme.account_id, sandbox_server.url)
    service = SeatService(session_factory)
    try:
        async with deployed(
            db_url,
            tmp_path,
            replicas=2,
            SEATBOT_CLOCK_START=(START + timedelta(minutes=30)).isoformat(),
            SEATBOT_CLOCK_SPEED="3600",
            SEATBOT_SCHEDULER_TICK_SECONDS="0.1",
            SEATBOT_JOB_STALE_SECONDS=str(24 * 3600),
            SEATBOT_QUOTE_TTL_SECONDS=str(10**8),
            SEATBOT_SLACK_WORKSPACE_PER_MINUTE="6000",
            SEATBOT_SLACK_WORKSPACE_BURST="50",
        ) as d:
            # Traffic through the balancer while the schedulers work: a status (a platform
            # listing) and a change confirmed.
            status = await d.driver.slash_command(
                "status account acme", user_id="U_OWNER", channel_id=CHANNEL
            )
            assert status.status_code == 200
            value = await _prompt(d, "add 1 axiom account acme")
            clicked, key = await _click(d, value)
            assert clicked == 200
            keys = {key, str(status.response_url).rsplit("/", 1)[-1]}
            deadline = time.monotonic() + 60
            while service.get_request(request_id).status is not RequestStatus.EXPIRED:
                assert time.monotonic() < deadline, "the approval never expired"
                assert all(r.alive() for r in d.replicas)
                await asyncio.sleep(0.2)
            await asyncio.sleep(1.5)  # a few more ticks on both replicas: nothing more is sent
            await d.standin.wait_for(
                "response_url", count=2, within_s=30, where=lambda c: c.args["response_url"] in keys
            )
            expositions = [await _metrics(r) for r in d.replicas]
    finally:
        await sandbox_server.stop()
    posts = [call for call in d.standin.calls("chat.postMessage") if call.ok]
    to = [str(call.args["channel"]) for call in posts]
    assert to.count("U_MANAGER") == 1, to  # the reminder, once
    assert to.count("U_CFO") == 1, to  # the escalation, once
    assert to.count("U_OWNER") == 1, to  # told of the expiry, once
    shown = set().union(*(series_names(text) for text in expositions))
    missing = set(required_series()) - shown
    assert missing == set(), missing
    everything = "\n".join(expositions)
    assert 'seatbot_changes_applied_total{via="confirm"} 1.0' in everything
    assert 'seatbot_job_runs_total{job="approval' in everything
    assert d.standin.violations == []
    _all_clean(db_url, session_factory)


# ---------------------------------------------------------------- /readyz and PostgreSQL


async def test_readyz_follows_postgresql_going_away_and_coming_back(tmp_path: Path) -> None:
    with private_postgres() as postgres:
        env = replica_environment(
            postgres.url,
            SLACK_SIGNING_SECRET=SIGNING_SECRET,
            SLACK_BOT_TOKEN=BOT_TOKEN,
            SLACK_API_URL="http://127.0.0.1:9/api/",
            SEATBOT_TOKEN_KEYS=TOKEN_KEY,
        )
        replica = Replica("replica", env, tmp_path / "replica.log")
        replica.start()
        try:
            await asyncio.to_thread(replica.wait_ready)
            await asyncio.to_thread(postgres.stop)
            refused = await asyncio.to_thread(wait_for_status, f"{replica.url}/readyz", 503)
            [reason] = refused.json()["reasons"]
            assert f"127.0.0.1:{postgres.port}" in reason, reason
            # Alive all the same: an orchestrator must not restart it for a database outage.
            await asyncio.to_thread(wait_for_status, f"{replica.url}/healthz", 200)
            await asyncio.to_thread(postgres.start)
            await asyncio.to_thread(wait_for_status, f"{replica.url}/readyz", 200)
            assert replica.alive()
        finally:
            await asyncio.to_thread(replica.stop)
    assert "Traceback" not in replica.log.read_text(errors="replace")
