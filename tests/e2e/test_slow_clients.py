"""Slow and idle clients cannot starve a replica: a real ``seatbot serve`` process with 2,000
connections held against it (some idle, some sending their request head a byte a second, some
their body), reopened as soon as the server closes them, still answers ``/healthz`` and a
signed ``/seats help`` within a second, its memory stays bounded, and once the clients stop
reopening, the server has closed every one of them by its deadlines.
"""

from __future__ import annotations

import asyncio
import contextlib
import resource
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from deploy_harness import Replica, replica_environment
from slow_clients import SlowClients, healthz_answer

from bot.offline.standin import SlackDriver, SlackStandIn, start_standin

pytestmark = pytest.mark.slow

SIGNING_SECRET = "slow-clients-signing-secret"
BOT_TOKEN = "xoxb-slow-clients-bot-token"
TEAM = "T_SLOW"
SLOW_CLIENTS = 2000
ANSWER_WITHIN_S = 1.0  # the bound
PROBE_ROUNDS = 3
RSS_GROWTH_BOUND_KIB = 200 * 1024  # generous: 2,000 connections' buffers are far less
# The server's deadlines with the default settings (first byte, request head, request body),
# with a margin for a loaded machine.
ALL_CLOSED_WITHIN_S = 10 + 15


@pytest.fixture
def enough_file_descriptors() -> Iterator[None]:
    """This process holds :data:`SLOW_CLIENTS` sockets: raise its soft descriptor limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = SLOW_CLIENTS + 1000
    assert hard == resource.RLIM_INFINITY or hard >= needed, f"ulimit -Hn is {hard}"
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, needed), hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@contextlib.asynccontextmanager
async def serving(tmp_path: Path) -> AsyncIterator[tuple[Replica, SlackStandIn, str]]:
    """A ``seatbot serve`` process with the default connection settings, and the stand-in."""
    standin = SlackStandIn()
    standin.add_workspace(TEAM, BOT_TOKEN)
    async with start_standin(standin) as server:
        env = replica_environment(
            f"sqlite:///{tmp_path / 'slow.db'}",
            SLACK_SIGNING_SECRET=SIGNING_SECRET,
            SLACK_BOT_TOKEN=BOT_TOKEN,
            SLACK_API_URL=server.api_url,
        )
        replica = Replica("slow-clients", env, tmp_path / "serve.log")
        replica.start()
        try:
            await asyncio.to_thread(replica.wait_ready)
            yield replica, standin, server.url
        finally:
            await asyncio.to_thread(replica.stop)


def rss_kib(pid: int) -> int:
    """The resident memory of process ``pid`` (VmRSS), in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for {pid}")


async def help_answer(url: str, standin_url: str) -> tuple[int, float, str]:
    """A signed ``/seats help`` on a new connection: the status, the seconds the app took to
    answer it (the stand-in calls the driver makes first are not counted) and the answer (the
    help is the ack itself)."""
    began: list[float] = []
    took: list[float] = []

    async def sent(request: httpx.Request) -> None:
        if request.url.path == "/slack/events":
            began.append(time.perf_counter())

    async def answered(response: httpx.Response) -> None:
        if response.request.url.path == "/slack/events":
            took.append(time.perf_counter() - began[-1])

    hooks = {"request": [sent], "response": [answered]}
    async with httpx.AsyncClient(timeout=10.0, event_hooks=hooks) as http:  # type: ignore[arg-type]
        driver = SlackDriver(url, SIGNING_SECRET, standin_url=standin_url, team_id=TEAM, http=http)
        result = await driver.slash_command("help", user_id="U_SLOW", channel_id="C_SLOW")
    return result.status_code, took[-1], result.text


@pytest.mark.usefixtures("enough_file_descriptors")
async def test_slow_clients_do_not_starve_a_replica(tmp_path: Path) -> None:
    async with serving(tmp_path) as (replica, standin, standin_url):
        assert replica.process is not None
        pid = replica.process.pid
        baseline = rss_kib(pid)
        attack = SlowClients(("127.0.0.1", replica.port), SLOW_CLIENTS)
        await asyncio.to_thread(attack.start)
        try:
            answers: list[tuple[str, int, float]] = []
            helps: list[str] = []
            peak = rss_kib(pid)
            for _ in range(PROBE_ROUNDS):
                await asyncio.to_thread(attack.next_round)  # each probe sees the clients move on
                answers.append(("/healthz", *await healthz_answer(replica.url)))
                status, took, helped = await help_answer(replica.url, standin_url)
                answers.append(("/seats help", status, took))
                helps.append(helped)
                peak = max(peak, rss_kib(pid))
            late = [(what, status, round(s, 2)) for what, status, s in answers
                    if status != 200 or s > ANSWER_WITHIN_S]  # fmt: skip
            assert late == [], f"with {SLOW_CLIENTS} slow clients: {late}"
            assert peak - baseline < RSS_GROWTH_BOUND_KIB, (baseline, peak)
            # Every help was answered in full (the help itself, in the ack).
            assert len(helps) == PROBE_ROUNDS
            assert all("/seats add" in helped for helped in helps), helps
            assert standin.violations == []

            # Stop reopening: the server closes every slow client by its deadlines.
            attack.reopening = False
            closed = await asyncio.to_thread(attack.all_closed.wait, ALL_CLOSED_WITHIN_S)
            assert closed, f"{attack.open_count()} slow clients still open"
        finally:
            await asyncio.to_thread(attack.stop)
        assert replica.alive()
        log = replica.log.read_text(errors="replace")
        assert "Traceback" not in log
