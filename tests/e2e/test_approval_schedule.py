"""Two real ``seatbot serve`` processes on one database and a fast clock: each reminder, each
escalation and the expiry of a pending approval happen once (counted at the Slack stand-in)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from seats_stack import pending_approval
from sqlalchemy.orm import Session, sessionmaker

from billing.books.service import SeatService
from billing.requests import RequestStatus
from bot.offline.standin import SlackStandIn, start_standin

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
TEAM = "T_ACME"
BOT_TOKEN = "xoxb-approval-schedule"
TOKEN_KEY = "0Yjc4mZ3kAs1WwXyvoV8v6l0hZBzXnC1Q2tY3u4s5Pw="
START = datetime(2026, 1, 16, 9, 0, tzinfo=UTC)
#: One simulated hour per real second.
SPEED = 3600


def _serve(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """A ``seatbot serve`` process on a loopback port the system chooses, its output in
    ``log``."""
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "serve", "--host", "127.0.0.1", "--port", "0"],
            env=env,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


async def test_two_replicas_remind_escalate_and_expire_once(
    db_url: str, seed: Any, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    request_id = pending_approval(seed, session_factory, name="acme", team=TEAM, at=START)
    standin = SlackStandIn()
    processes: list[subprocess.Popen[bytes]] = []
    logs = [tmp_path / "serve-1.log", tmp_path / "serve-2.log"]
    async with start_standin(standin) as server:
        standin.add_workspace(TEAM, BOT_TOKEN)
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.upper().startswith("SLACK_") and key.upper() != "DATABASE_URL"
        }
        env.update(
            DATABASE_URL=db_url,
            SEATBOT_TOKEN_KEYS=TOKEN_KEY,
            SLACK_BOT_TOKEN=BOT_TOKEN,
            SLACK_SIGNING_SECRET="approval-schedule-secret",
            SLACK_API_URL=server.api_url,
            # The clock starts half an hour after the request was submitted.
            SEATBOT_CLOCK_START=(START + timedelta(minutes=30)).isoformat(),
            SEATBOT_CLOCK_SPEED=str(SPEED),
            SEATBOT_SCHEDULER_TICK_SECONDS="0.1",
            SEATBOT_JOB_STALE_SECONDS=str(24 * 3600),
            SEATBOT_SLACK_WORKSPACE_PER_MINUTE="6000",
            SEATBOT_SLACK_WORKSPACE_BURST="50",
            SEATBOT_SHUTDOWN_DEADLINE_SECONDS="5",
        )
        try:
            processes.extend(_serve(env, log) for log in logs)
            deadline = time.monotonic() + 60
            service = SeatService(session_factory)
            while time.monotonic() < deadline:
                if service.get_request(request_id).status is RequestStatus.EXPIRED:
                    break
                for process in processes:
                    assert process.poll() is None, "a server stopped"
                await asyncio.sleep(0.2)
            # Past the expiry, a few more ticks on both replicas must send nothing more.
            await asyncio.sleep(1.5)
        finally:
            for process in processes:
                process.terminate()
            for process in processes:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(timeout=20)
                if process.poll() is None:
                    process.kill()
    output = "\n".join(log.read_text(errors="replace") for log in logs)
    assert service.get_request(request_id).status is RequestStatus.EXPIRED, output
    posts = [call for call in standin.calls("chat.postMessage") if call.ok]
    to = [str(call.args["channel"]) for call in posts]
    assert to.count("U_MANAGER") == 1, (to, output)  # the reminder, once
    assert to.count("U_CFO") == 1, (to, output)  # the escalation, once
    assert to.count("U_OWNER") == 1, (to, output)  # told of the expiry, once
    assert "Reminder" in str(posts[to.index("U_MANAGER")].args["text"])
    updates = [call for call in standin.calls("chat.update") if call.ok]
    landed = {str(call.response["channel"]) for call in posts if call.args["channel"] != "U_OWNER"}
    # The reminder and the escalation are stamped where they landed (the DM channels).
    assert sorted(str(call.args["channel"]) for call in updates) == sorted(landed)
    assert all("Expired" in str(call.args["text"]) for call in updates)
    assert standin.violations == []
    assert service.check_invariants().violations == ()
