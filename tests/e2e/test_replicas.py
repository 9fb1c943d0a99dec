"""Two real ``seatbot serve`` processes on one database, clicked at the worst moments.

Defect 1 (an adversarial run on PostgreSQL): Confirm clicks that straddled a quote's expiry made
one replica re-quote a request while the other applied it, and the re-quote rewrote the applied
request's stored lines. Here twenty requests are each clicked once on each replica, around the
instant their quote expires; then a replica is killed with SIGKILL in the middle of a stream of
clicks. Every run ends with ``seatbot check``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from deploy_harness import listening_port
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from billing.approvals.rules import ApprovalPolicy
from billing.books.service import SeatService
from billing.models import Account, LedgerEntry, Member, SeatChangeRequest
from billing.setup.store import apply_approval_policy
from bot.offline.standin import SlackDriver, SlackStandIn, StandInServer, start_standin
from bot.offline.standin.slack_driver import button
from handlers import ids

pytestmark = pytest.mark.slow

SIGNING_SECRET = "replica-signing-secret"
BOT_TOKEN = "xoxb-replicas"
TOKEN_KEY = "0Yjc4mZ3kAs1WwXyvoV8v6l0hZBzXnC1Q2tY3u4s5Pw="
TEAM = "T_ACME"
CHANNEL = "C_SEATS"
QUOTE_TTL_S = 4
ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Replica:
    process: subprocess.Popen[bytes]
    log: Path
    url: str = ""  # known once _healthy() has read the port from the log


def _start_replica(db_url: str, standin: StandInServer, log: Path, ttl_s: int) -> Replica:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.upper().startswith("SLACK_") and key.upper() not in {"PORT", "DATABASE_URL"}
    }
    env.update(
        DATABASE_URL=db_url,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_API_URL=standin.api_url,
        SEATBOT_TOKEN_KEYS=TOKEN_KEY,
        SEATBOT_QUOTE_TTL_SECONDS=str(ttl_s),
        # Messages paced by the workspace budget may still be waiting when a test ends; a
        # stop gives them this long (the default, 20 s, would outlast the test's wait).
        SEATBOT_SHUTDOWN_DEADLINE_SECONDS="5",
    )
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "serve", "--host", "127.0.0.1", "--port", "0"],
            env=env,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return Replica(process, log)


async def _healthy(replica: Replica, within_s: float = 60.0) -> None:
    deadline = time.monotonic() + within_s
    port = await asyncio.to_thread(listening_port, replica.process, replica.log, within_s)
    replica.url = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient(timeout=2.0) as http:
        while True:
            if replica.process.poll() is not None:
                raise RuntimeError(replica.log.read_text(errors="replace"))
            with contextlib.suppress(httpx.TransportError):
                if (await http.get(f"{replica.url}/healthz")).status_code == 200:
                    return
            if time.monotonic() > deadline:
                raise TimeoutError(f"{replica.url} did not become healthy")
            await asyncio.sleep(0.05)


@dataclass
class Cluster:
    standin: SlackStandIn
    replicas: list[Replica]
    drivers: list[SlackDriver]
    sessions: sessionmaker[Session]
    db_url: str


@contextlib.asynccontextmanager
async def cluster(
    db_url: str, session_factory: sessionmaker[Session], tmp_path: Path, *, ttl_s: int
) -> AsyncIterator[Cluster]:
    slack = SlackStandIn()
    slack.add_workspace(TEAM, BOT_TOKEN)
    async with start_standin(slack) as server:
        # The first replica migrates; the second starts once it is up (both would be fine).
        first = _start_replica(db_url, server, tmp_path / "replica-a.log", ttl_s)
        await _healthy(first)
        second = _start_replica(db_url, server, tmp_path / "replica-b.log", ttl_s)
        await _healthy(second)
        replicas = [first, second]
        drivers = [
            SlackDriver(r.url, SIGNING_SECRET, standin_url=server.url, team_id=TEAM)
            for r in replicas
        ]
        try:
            yield Cluster(server.standin, replicas, drivers, session_factory, db_url)
        finally:
            for driver in drivers:
                await driver.aclose()
            for replica in replicas:
                if replica.process.poll() is None:
                    replica.process.terminate()
                    replica.process.wait(timeout=20)


def _seed_accounts(seed: Any, count: int) -> list[Any]:
    return [seed(f"acme-{n}", product="axiom", seats=10, team_id=TEAM) for n in range(count)]


async def _prompts(c: Cluster, count: int) -> dict[int, tuple[str, Any]]:
    """``/seats add 1 axiom`` on each account; the Confirm button each prompt carries."""

    async def prompt(n: int) -> tuple[int, tuple[str, Any]]:
        sent = await c.drivers[n % 2].slash_command(
            f"add 1 axiom account acme-{n}", user_id="U_OWNER", channel_id=CHANNEL
        )
        assert sent.status_code == 200
        key = str(sent.response_url).rsplit("/", 1)[-1]
        [reply] = await c.standin.wait_for(
            "response_url", within_s=20, where=lambda call, k=key: call.args["response_url"] == k
        )
        confirm = _buttons(reply.args)[ids.CONFIRM_ACTION]
        return int(str(confirm["value"]).split(".")[0]), (str(confirm["value"]), reply)

    # All at once, so the quotes are made close together (one after another, on a loaded
    # machine the first could expire before the last is made).
    return dict(await asyncio.gather(*(prompt(n) for n in range(count))))


def _buttons(args: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for block in args.get("blocks") or []:
        if block.get("type") == "actions":
            for element in block["elements"]:
                found[element["action_id"]] = element
    return found


async def _click(driver: SlackDriver, value: str) -> str:
    """Click Confirm carrying ``value``; returns the key of the response URL it answers at."""
    sent = await driver.block_action(
        button(ids.CONFIRM_ACTION, value, block_id=ids.PROMPT_ACTIONS_BLOCK),
        user_id="U_OWNER",
        channel_id=CHANNEL,
    )
    assert sent.status_code == 200, sent.text
    return str(sent.response_url).rsplit("/", 1)[-1]


def _requests(sessions: sessionmaker[Session]) -> dict[int, SeatChangeRequest]:
    with sessions() as session:
        return {r.id: r for r in session.scalars(select(SeatChangeRequest))}


def _seatbot_check(db_url: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, DATABASE_URL=db_url, SEATBOT_TOKEN_KEYS=TOKEN_KEY)
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "check"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def test_clicks_straddling_a_quotes_expiry_never_rewrite_an_applied_request(
    db_url: str, seed: Any, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    count = 20
    _seed_accounts(seed, count)
    async with cluster(db_url, session_factory, tmp_path, ttl_s=QUOTE_TTL_S) as c:
        prompts = await _prompts(c, count)
        stored = _requests(session_factory)
        rng = random.Random(20261129)
        loop = asyncio.get_running_loop()

        async def at(instant: datetime, driver: SlackDriver, value: str) -> str:
            delay = (instant - datetime.now(UTC)).total_seconds()
            await asyncio.sleep(max(0.0, delay))
            return await _click(driver, value)

        clicks = []
        for request_id, (value, _) in prompts.items():
            expiry = stored[request_id].quoted_at.timestamp() + QUOTE_TTL_S
            # One click on each replica around the expiry, most of them before it: a click's own
            # latency (long on a loaded machine) moves the instant the server reads later.
            for driver in c.drivers:
                when = datetime.fromtimestamp(expiry + rng.uniform(-1.0, 0.3), UTC)
                clicks.append((request_id, loop.create_task(at(when, driver, value))))
        keys = {request_id: [] for request_id in prompts}  # type: dict[int, list[str]]
        for request_id, task in clicks:
            keys[request_id].append(await task)
        everything = {key for found in keys.values() for key in found}
        replies = await c.standin.wait_for(
            "response_url",
            count=len(everything),
            within_s=60,
            where=lambda call: call.args["response_url"] in everything,
        )
        by_key = {call.args["response_url"]: call.args for call in replies}

    final = _requests(session_factory)
    applied = [r for r in final.values() if r.status == "applied"]
    assert applied, "no click applied anything: the test did not exercise the race"
    for request in applied:
        for key in keys[request.id]:
            # An applied request is never offered for confirmation again.
            assert ids.CONFIRM_ACTION not in _buttons(by_key[key]), (request.id, by_key[key])
    for request in final.values():
        assert request.status in {"applied", "draft"}
    report = SeatService(session_factory).check_invariants()
    assert report.violations == ()
    checked = _seatbot_check(db_url)
    assert checked.returncode == 0, checked.stdout + checked.stderr


async def test_a_replica_killed_mid_stream_leaves_nothing_applied_twice(
    db_url: str, seed: Any, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    count = 16
    _seed_accounts(seed, count)
    async with cluster(db_url, session_factory, tmp_path, ttl_s=600) as c:
        prompts = await _prompts(c, count)
        victim = c.replicas[0]
        values = [value for value, _ in prompts.values()]

        async def storm(driver: SlackDriver) -> None:
            for value in values:
                with contextlib.suppress(httpx.TransportError, AssertionError):
                    await _click(driver, value)

        survivor = asyncio.create_task(storm(c.drivers[1]))
        doomed = asyncio.create_task(storm(c.drivers[0]))
        await asyncio.sleep(0.3)
        os.kill(victim.process.pid, signal.SIGKILL)  # mid-stream, mid-transaction maybe
        victim.process.wait(timeout=20)
        await asyncio.gather(survivor, doomed)
        # What the dead replica left half-done, the survivor finishes: click each request's
        # current prompt again (a transaction killed midway left nothing behind).
        for request in _requests(session_factory).values():
            await _click(c.drivers[1], f"{request.id}.{request.quote_revision}")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if {r.status for r in _requests(session_factory).values()} == {"applied"}:
                break
            await asyncio.sleep(0.1)
    final = _requests(session_factory)
    assert {r.status for r in final.values()} == {"applied"}
    report = SeatService(session_factory).check_invariants()
    assert report.violations == ()
    checked = _seatbot_check(db_url)
    assert checked.returncode == 0, checked.stdout + checked.stderr


async def test_approvals_on_two_replicas_decide_once(
    db_url: str, seed: Any, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    """Twenty Approve clicks spread over both replicas apply once; Approve racing Deny on
    different replicas gives one outcome, and every message says the same one."""
    [acme] = _seed_accounts(seed, 1)
    with session_factory.begin() as session:
        session.add(
            Member(account_id=acme.account_id, team_id=TEAM, user_id="U_MGR2", role="manager")
        )
        account = session.get(Account, acme.account_id)
        assert account is not None
        # Every increase waits for a manager (no platform is needed to approve an increase).
        apply_approval_policy(session, account, ApprovalPolicy(increase_over_seats=0))
    async with cluster(db_url, session_factory, tmp_path, ttl_s=600) as c:
        first = await _submitted(c)
        clicks = [
            _approve(c.drivers[n % 2], first, "U_MANAGER" if n % 3 else "U_MGR2") for n in range(20)
        ]
        await asyncio.gather(*clicks)
        await _settled(session_factory, first)
        assert _requests(session_factory)[first].status == "applied"
        with session_factory() as session:
            lines = session.scalars(
                select(LedgerEntry).where(LedgerEntry.request_id == first)
            ).all()
        assert len(lines) == 2

        second = await _submitted(c)
        mark = c.standin.calls()[-1].seq
        await asyncio.gather(
            _approve(c.drivers[0], second, "U_MANAGER"),
            _deny(c.drivers[1], second, "U_MGR2", "Not now"),
        )
        await _settled(session_factory, second)
        outcome = _requests(session_factory)[second].status
        assert outcome in {"applied", "denied"}
        said = "Approved by" if outcome == "applied" else "Denied by"
        stamps = await c.standin.wait_for(
            "chat.update", count=2, within_s=20, where=lambda call: call.seq > mark
        )
        # Both approvers' messages carry the one outcome, and only that one.
        for stamp in stamps:
            assert said in str(stamp.args["text"]), stamp.args["text"]
        # The owner is told after the stamps are sent: wait for it, then count.
        notices = await c.standin.wait_for(
            "chat.postMessage",
            within_s=20,
            where=lambda call: call.seq > mark and call.args["channel"] == "U_OWNER",
        )
        assert said in str(notices[0].args["text"]), notices[0].args["text"]
        told = [
            call
            for call in c.standin.calls("chat.postMessage")
            if call.seq > mark and call.args["channel"] == "U_OWNER"
        ]
        assert len(told) == 1
    report = SeatService(session_factory).check_invariants()
    assert report.violations == ()


async def _submitted(c: Cluster) -> int:
    """``/seats add 1 axiom`` confirmed by the owner: pending approval; the request id."""
    [(request_id, (value, _))] = list((await _prompts(c, 1)).items())
    key = await _click(c.drivers[0], value)
    await c.standin.wait_for(
        "response_url", within_s=20, where=lambda call: call.args["response_url"] == key
    )
    assert _requests(c.sessions)[request_id].status == "pending_approval"
    return request_id


async def _approve(driver: SlackDriver, request_id: int, user: str) -> None:
    sent = await driver.block_action(
        button(ids.APPROVE_ACTION, f"{request_id}.1", block_id=ids.APPROVAL_ACTIONS_BLOCK),
        user_id=user,
        channel_id=f"D{user}",
    )
    assert sent.status_code == 200


async def _deny(driver: SlackDriver, request_id: int, user: str, reason: str) -> None:
    view = {
        "id": "V_DENY",
        "type": "modal",
        "callback_id": ids.DENY_MODAL_CALLBACK,
        "private_metadata": f"{request_id}.1",
        "blocks": [],
    }
    sent = await driver.view_submission(
        view,
        user_id=user,
        values={
            ids.DENY_REASON_BLOCK: {
                ids.DENY_REASON_ACTION: {"type": "plain_text_input", "value": reason}
            }
        },
    )
    assert sent.status_code == 200


async def _settled(sessions: sessionmaker[Session], request_id: int) -> None:
    deadline = time.monotonic() + 30
    while _requests(sessions)[request_id].status == "pending_approval":
        assert time.monotonic() < deadline, "the request was never decided"
        await asyncio.sleep(0.1)
