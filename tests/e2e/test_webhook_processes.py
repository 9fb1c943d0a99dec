"""The billing hand-off with real ``seatbot serve`` processes: killed with SIGKILL between the
commit and the send, or after the receiver got the event but before it was marked sent; and two
replicas delivering 500 applied changes, each exactly once.

The first kill point is made exact by a test-only launcher (``serve_with_hooks.py``: the
sender claims the attempt, writes a marker and waits instead of sending); the second by a
receiver that records the event and withholds its answer until told. The production path is
unchanged. Everything runs at the real time (the processes' clock): subscriptions are seeded in
the current billing period.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
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
from outbox_helpers import change, outbox_rows
from sqlalchemy.orm import Session, sessionmaker
from webhook_harness import FlakyReceiver, ReceiverServer, eventually

from billing.events.rules import OutboxStatus
from bot.offline.standin import SlackDriver, StandInServer, start_standin
from bot.offline.standin.slack_driver import button
from bot.webhooks.config import new_webhook_secret
from handlers import ids

pytestmark = pytest.mark.slow

SIGNING_SECRET = "webhook-replicas-signing-secret"
BOT_TOKEN = "xoxb-webhook-replicas"
TOKEN_KEY = "0Yjc4mZ3kAs1WwXyvoV8v6l0hZBzXnC1Q2tY3u4s5Pw="
TEAM = "T_ACME"
CHANNEL = "C_SEATS"
SECRET = new_webhook_secret()
WEBHOOK_URL_TOKEN = "replica-url-token-8a2f6e10"
ROOT = Path(__file__).resolve().parents[2]
LAUNCHER = Path(__file__).with_name("serve_with_hooks.py")


@dataclass
class Replica:
    process: subprocess.Popen[bytes]
    log: Path
    url: str = ""  # known once healthy() has read the port from the log

    def kill(self) -> None:
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=20)


def start_replica(
    db_url: str,
    standin: StandInServer,
    webhook_url: str,
    log: Path,
    *,
    timeout_s: float = 1.0,
    block_before_send: Path | None = None,
) -> Replica:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.upper().startswith(("SLACK_", "SEATBOT_"))
        and key.upper() not in {"PORT", "DATABASE_URL"}
    }
    env.update(
        DATABASE_URL=db_url,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_API_URL=standin.api_url,
        SEATBOT_TOKEN_KEYS=TOKEN_KEY,
        # A secret in the query: the replicas' logs (scanned by the e2e suite) never show it.
        SEATBOT_WEBHOOK_URL=f"{webhook_url}?token={WEBHOOK_URL_TOKEN}",
        SEATBOT_WEBHOOK_ALLOW_PRIVATE="1",  # the receiver is on loopback
        SEATBOT_WEBHOOK_SECRET=SECRET,
        SEATBOT_WEBHOOK_TIMEOUT_SECONDS=str(timeout_s),
        SEATBOT_WEBHOOK_POLL_SECONDS="0.2",
        SEATBOT_WEBHOOK_RETRY_SCHEDULE="0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5",
    )
    if block_before_send is not None:
        env["SEATBOT_TEST_BLOCK_BEFORE_SEND"] = str(block_before_send)
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, str(LAUNCHER), "serve", "--host", "127.0.0.1", "--port", "0"],
            env=env,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return Replica(process, log)


async def healthy(replica: Replica, within_s: float = 60.0) -> None:
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
class World:
    standin: StandInServer
    receiver: FlakyReceiver
    server: ReceiverServer
    replicas: list[Replica]


@contextlib.asynccontextmanager
async def world() -> AsyncIterator[World]:
    receiver = FlakyReceiver(SECRET)
    server = ReceiverServer(receiver)
    server.open()
    replicas: list[Replica] = []
    async with start_standin() as standin:
        standin.standin.add_workspace(TEAM, BOT_TOKEN)
        try:
            yield World(standin, receiver, server, replicas)
        finally:
            receiver.unblock()
            for replica in replicas:
                if replica.process.poll() is None:
                    replica.process.terminate()
                    replica.process.wait(timeout=20)
            await server.close()


async def confirm_over_slack(w: World, replica: Replica, text: str) -> None:
    """``/seats text`` and a click on Confirm, both sent to ``replica``; waits for "Done."."""
    async with SlackDriver(
        replica.url, SIGNING_SECRET, standin_url=w.standin.url, team_id=TEAM
    ) as driver:
        sent = await driver.slash_command(text, user_id="U_OWNER", channel_id=CHANNEL)
        assert sent.status_code == 200
        key = str(sent.response_url).rsplit("/", 1)[-1]
        [prompt] = await w.standin.standin.wait_for(
            "response_url", within_s=20, where=lambda call: call.args["response_url"] == key
        )
        confirm = next(
            element
            for block in prompt.args["blocks"]
            if block.get("type") == "actions"
            for element in block["elements"]
            if element["action_id"] == ids.CONFIRM_ACTION
        )
        clicked = await driver.block_action(
            button(ids.CONFIRM_ACTION, confirm["value"], block_id=ids.PROMPT_ACTIONS_BLOCK),
            user_id="U_OWNER",
            channel_id=CHANNEL,
        )
        assert clicked.status_code == 200
        key = str(clicked.response_url).rsplit("/", 1)[-1]
        [done] = await w.standin.standin.wait_for(
            "response_url", within_s=20, where=lambda call: call.args["response_url"] == key
        )
        assert "Done." in str(done.args), done.args


def seatbot_check(db_url: str) -> subprocess.CompletedProcess[str]:
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


def sent(sessions: sessionmaker[Session]) -> bool:
    return all(row.status == OutboxStatus.SENT.value for row in outbox_rows(sessions))


async def test_killed_between_the_commit_and_the_send_the_event_is_delivered_after_restart_once(
    db_url: str, seed: Any, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    seed("acme", product="axiom", seats=10, team_id=TEAM, at=datetime.now(UTC))
    marker = tmp_path / "claimed-not-sent"
    async with world() as w:
        doomed = start_replica(
            db_url, w.standin, w.server.url, tmp_path / "a.log", block_before_send=marker
        )
        w.replicas.append(doomed)
        await healthy(doomed)
        await confirm_over_slack(w, doomed, "add 2 axiom")
        await eventually(marker.exists, what="the sender claiming the event")
        [row] = outbox_rows(session_factory)
        assert (row.status, row.attempts) == (OutboxStatus.PENDING.value, 1)
        assert row.claimed_until is not None
        assert marker.read_text() == row.webhook_id
        doomed.kill()  # committed and claimed; nothing sent
        assert w.receiver.raw == []

        restarted = start_replica(db_url, w.standin, w.server.url, tmp_path / "b.log")
        w.replicas.append(restarted)
        await healthy(restarted)
        [event] = await w.receiver.receiver.wait_for(1, within_s=60)
        await eventually(lambda: sent(session_factory), what="the event marked sent")
    [row] = outbox_rows(session_factory)
    assert event.webhook_id == row.webhook_id
    assert row.attempts == 2  # the killed claim, then the delivery
    assert len(w.receiver.raw) == 1  # delivered once
    checked = seatbot_check(db_url)
    assert checked.returncode == 0, checked.stdout + checked.stderr


async def test_killed_after_the_receiver_got_it_the_event_comes_again_with_the_same_webhook_id(
    db_url: str, seed: Any, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    seed("acme", product="axiom", seats=10, team_id=TEAM, at=datetime.now(UTC))
    async with world() as w:
        w.receiver.faults.append("block")  # record the first delivery, withhold the answer
        doomed = start_replica(db_url, w.standin, w.server.url, tmp_path / "a.log")
        w.replicas.append(doomed)
        await healthy(doomed)
        await confirm_over_slack(w, doomed, "add 2 axiom")
        await asyncio.wait_for(w.receiver.blocked.wait(), 30)
        [first] = w.receiver.receiver.events
        doomed.kill()  # the receiver has it; it was never marked sent
        w.receiver.unblock()
        [row] = outbox_rows(session_factory)
        assert row.status == OutboxStatus.PENDING.value

        restarted = start_replica(db_url, w.standin, w.server.url, tmp_path / "b.log")
        w.replicas.append(restarted)
        await healthy(restarted)
        first, again = await w.receiver.receiver.wait_for(2, within_s=60)
        await eventually(lambda: sent(session_factory), what="the event marked sent")
    [row] = outbox_rows(session_factory)
    assert first.webhook_id == again.webhook_id == row.webhook_id
    assert first.body == again.body == row.body.encode()
    assert (first.duplicate, again.duplicate) == (False, True)  # deduplicable on webhook-id
    assert w.receiver.receiver.unique_ids == {row.webhook_id}
    assert row.attempts == 2
    checked = seatbot_check(db_url)
    assert checked.returncode == 0, checked.stdout + checked.stderr


async def test_two_replicas_deliver_500_applied_changes_each_exactly_once(
    db_url: str, seed: Any, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    accounts = [
        seed(f"acme-{n}", product="axiom", seats=10, team_id=TEAM, at=now) for n in range(50)
    ]
    async with world() as w:
        # A deadline far above any answer time: a healthy receiver must get each event once.
        for name in ("a", "b"):
            replica = start_replica(
                db_url, w.standin, w.server.url, tmp_path / f"{name}.log", timeout_s=20.0
            )
            w.replicas.append(replica)
        for replica in w.replicas:
            await healthy(replica)

        def apply_all() -> None:
            # 50 accounts × 10 changes, written by this process while both replicas deliver.
            for step in range(1, 11):
                for seeded in accounts:
                    change(session_factory, seeded, 10 + step, datetime.now(UTC))

        await asyncio.to_thread(apply_all)
        rows = outbox_rows(session_factory)
        assert len(rows) == 500
        await w.receiver.receiver.wait_for(500, within_s=300)
        await eventually(lambda: sent(session_factory), within_s=60, what="all 500 marked sent")
    received = w.receiver.receiver.events
    assert len(received) == 500
    assert len({event.webhook_id for event in received}) == 500
    assert {event.webhook_id for event in received} == {row.webhook_id for row in rows}
    assert not any(event.duplicate for event in received)
    assert {row.attempts for row in outbox_rows(session_factory)} == {1}
    # Both replicas delivered (so both contended for the claims), 500 deliveries in all.
    delivered_by = [
        replica.log.read_text(errors="replace").count("Delivered seat_change.applied")
        for replica in w.replicas
    ]
    assert sum(delivered_by) == 500
    assert min(delivered_by) > 0, delivered_by
    logged = "".join(replica.log.read_text(errors="replace") for replica in w.replicas)
    assert logged.count("?token=… ") >= 500  # httpx's request lines, the query value redacted
    assert WEBHOOK_URL_TOKEN not in logged
    checked = seatbot_check(db_url)
    assert checked.returncode == 0, checked.stdout + checked.stderr
