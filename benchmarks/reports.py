"""Reports benchmark: (a) reconcile many accounts against the sandbox, database writes included;
(b) post many digests to a Slack stand-in that answers 429 past Slack's limits.

(a) ``--accounts`` accounts × 3 products (Contact Center, Axiom, Matrix), each with a platform
connection to the sandbox (a child process, ``--latency-ms`` added to every request, pages of
100, 5–250 users per account derived from its name), reconciled by the real report jobs
(:class:`bot.runtime.jobs.ReportJobs`: the platform directory with ``HostLimits`` of
``--concurrency`` per host, PlatformFacts, runs stored in SQLite in batches). Prints the wall
time against the ideal bound (HTTP requests × latency ÷ allowed concurrency) and the peak RSS
of the reconciling process during the timed part (the kernel's high-water mark ``VmHWM``, reset
through ``/proc/self/clear_refs`` just before it), beside the whole process's peak and the peak
of the seeding, which is set-up and runs in a child process of its own.

(b) ``--digests`` digests spread over ``--workspaces`` workspaces (one channel each), posted by
:class:`handlers.slack_posting.SlackPoster` paced by :class:`handlers.slack_pacing.SlackPacing`,
to a stand-in (child process) that answers 429 with ``Retry-After`` when a channel gets more
than one message a second or a workspace more than ``--per-minute`` a minute (bursts of
``--burst``). Prints the achieved rate against the budget, the 429s received and the messages
lost (posted by nobody).

    .venv/bin/python benchmarks/reports.py [--part a|b|both] [--accounts 10000] [--digests 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import resource
import shutil
import socket
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import httpx
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import insert

from billing.jobs import JobClaims
from billing.models import Account, Subscription
from billing.money import Money
from billing.periods import Interval, period_at, zone
from billing.products import Product
from billing.reports import (
    AccountReconciliation,
    DigestFacts,
    ProductReadStatus,
    ProductReconciliation,
    Reports,
    UserCounts,
)
from billing.setup import PlatformConnection
from billing.views import AccountView
from bot.runtime.db import make_engine, make_session_factory, upgrade
from bot.runtime.jobs import ReportJobs
from bot.runtime.platform_credentials import seal
from bot.runtime.platform_directory import PlatformDirectory
from bot.runtime.secrets import TokenCipher
from handlers.facts import PlatformFacts
from handlers.slack_pacing import PacingLimits, SlackPacing
from handlers.slack_posting import SlackPoster, SlackPostFailed, SlackPosting
from handlers.views.digest import digest_messages
from platforms import HostLimits
from platforms.sandbox import DEFAULT_API_KEY, Fault, SandboxApp, SandboxConfig

KEY = "c2VhdGJvdC1iZW5jaC1rZXktMDEyMzQ1Njc4OWFiY2Q="
NOW = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)


def report_jobs(sessions: Any, per_host: int) -> tuple[ReportJobs, PlatformDirectory]:
    """The report jobs as ``seatbot serve`` builds them, reading the platforms ``per_host``
    requests at a time, posting nowhere, at :data:`NOW`; and their platforms (to close)."""
    directory = PlatformDirectory(
        sessions, limits=HostLimits(per_host=per_host), cipher=TokenCipher([KEY])
    )
    facts = PlatformFacts(
        directory.platform_for,
        deadline_s=300.0,
        recent_ttl_s=0.0,
        platforms_for=directory.platforms_for,
    )
    jobs = ReportJobs(
        reports=Reports(sessions),
        claims=JobClaims(sessions),
        facts=facts,
        clock=lambda: NOW,
        posting=SlackPosting(None),
        source="benchmark",
        concurrency=per_host * 4,
    )
    return jobs, directory


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def serve_sandbox(port: int, latency_ms: int) -> None:
    import uvicorn

    faults = [Fault(kind="latency", ms=latency_ms)] if latency_ms else []
    uvicorn.run(
        SandboxApp(SandboxConfig(max_per_page=100, faults=faults)),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
        backlog=4096,
    )


def serve_standin(port: int, per_minute: float, burst: int, workspaces: int) -> None:
    import uvicorn

    from bot.offline.standin import SlackStandIn
    from bot.offline.standin.rate_limits import PostingLimits

    standin = SlackStandIn(
        posting_limits=PostingLimits(workspace_per_minute=per_minute, workspace_burst=burst)
    )
    standin.base_url = f"http://127.0.0.1:{port}"
    for n in range(workspaces):
        standin.add_workspace(f"TBENCH{n:04d}", f"xoxb-bench-{n}")
    uvicorn.run(
        standin.asgi_app, host="127.0.0.1", port=port, log_level="warning", access_log=False,
        backlog=4096,
    )  # fmt: skip


async def wait_until(url: str, deadline_s: float = 30.0) -> None:
    give_up = time.monotonic() + deadline_s
    async with httpx.AsyncClient() as client:
        while True:
            try:
                await client.get(url)
                return
            except httpx.TransportError:
                if time.monotonic() > give_up:
                    raise
            await asyncio.sleep(0.05)


def peak_rss_mb(pid: int | None = None) -> float:
    """The process's peak RSS: ``VmHWM`` (since the last :func:`reset_peak_rss`), or the
    whole-life ``ru_maxrss`` of this process when ``/proc`` says nothing."""
    for line in Path(f"/proc/{pid or 'self'}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    if pid is None:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return float("nan")


def reset_peak_rss() -> bool:
    """Reset this process's ``VmHWM`` to its current RSS (Linux: ``5`` to ``clear_refs``), so
    that a later :func:`peak_rss_mb` is the peak of what ran in between; ``False`` if the
    kernel does not allow it."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def rss_mb() -> float:
    """This process's resident set size now (``VmRSS``), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def whole_life_peak_rss_mb() -> float:
    """This process's peak RSS over its whole life (``ru_maxrss``, never reset)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# -- (a) reconciliation ------------------------------------------------------------------------


def seed_in_child(url: str, count: int, sandbox: str) -> float:
    """Seed the database in a child process (set-up, not the product: its memory is not the
    reconciliation's); the child's peak RSS in MB."""
    child = multiprocessing.get_context("spawn").Process(
        target=seed_accounts, args=(url, count, sandbox)
    )
    child.start()
    peak = float("nan")
    while child.is_alive():
        with contextlib.suppress(OSError, ValueError):  # it may exit between two looks
            peak = peak_rss_mb(child.pid)
        time.sleep(0.1)
    child.join()
    if child.exitcode != 0:
        raise SystemExit(f"seatbot benchmark: seeding failed (exit {child.exitcode})")
    return peak


def seed_accounts(url: str, count: int, sandbox: str) -> None:
    """``count`` accounts, each with the three products and their sandbox connections."""
    engine = make_engine(url)
    cipher = TokenCipher([KEY])
    token = seal(cipher, {"token": DEFAULT_API_KEY})
    axiom = seal(cipher, {"api_key": DEFAULT_API_KEY, "login_email": "owner@bench.example.com"})
    period = period_at(date(2026, 1, 1), Interval.MONTHLY, NOW, zone("UTC"))
    options = json.dumps({"timeouts": {"listing_deadline_s": 120}})
    with engine.begin() as connection:
        connection.execute(
            insert(Account),
            [
                {"name": f"bench{n:05d}", "display_name": f"Bench {n}", "currency": "USD",
                 "timezone": "UTC", "team_id": "TBENCH", "channel_id": None}
                for n in range(count)
            ],
        )  # fmt: skip
        subscriptions, connections = [], []
        for n in range(count):
            for product in Product:
                subscriptions.append(
                    {"account_id": n + 1, "product": product.value, "seats": 100,
                     "initial_seats": 100, "started_at": period.start, "unit_price_minor": 3000,
                     "currency": "USD", "interval": "monthly", "anchor": date(2026, 1, 1),
                     "proration_rule": "daily", "decrease_policy": "prorated",
                     "current_period_start": period.start, "current_period_end": period.end,
                     "version": 1}
                )  # fmt: skip
                connections.append(
                    {"account_id": n + 1, "product": product.value, "kind": "api",
                     "base_url": f"{sandbox}/t/bench{n:05d}/{product.value}", "file_path": None,
                     "options": options,
                     "credentials_encrypted": axiom if product is Product.AXIOM else token}
                )  # fmt: skip
        connection.execute(insert(Subscription), subscriptions)
        connection.execute(insert(PlatformConnection), connections)
    engine.dispose()


async def part_a(args: argparse.Namespace) -> None:
    port = free_port()
    server = multiprocessing.Process(target=serve_sandbox, args=(port, args.latency_ms))
    server.start()
    base = f"http://127.0.0.1:{port}"
    folder = Path(tempfile.mkdtemp(prefix="seatbot-bench-"))
    url = f"sqlite:///{folder / 'bench.db'}"
    try:
        await wait_until(f"{base}/healthz")
        upgrade(url)
        seed_rss = await asyncio.to_thread(seed_in_child, url, args.accounts, base)
        engine = make_engine(url)
        sessions = make_session_factory(engine)
        jobs, directory = report_jobs(sessions, args.concurrency)
        counted = {"accounts": 0, "products": 0, "unknown": 0, "users": 0}

        def on_batch(runs: list[AccountReconciliation]) -> None:
            for run in runs:
                counted["accounts"] += 1
                for product in run.products:
                    counted["products"] += 1
                    if product.users is None:
                        counted["unknown"] += 1
                    else:
                        counted["users"] += product.users.total

        async with httpx.AsyncClient(base_url=base) as admin:
            before = (await admin.get("/_sandbox/stats")).json()["requests"]
            start_rss = rss_mb()
            hwm_reset = reset_peak_rss()
            cpu = time.process_time()
            started = time.monotonic()
            await jobs.reconcile(None, on_batch=on_batch)
            wall = time.monotonic() - started
            cpu = time.process_time() - cpu
            requests = (await admin.get("/_sandbox/stats")).json()["requests"] - before
            timed_rss = peak_rss_mb() if hwm_reset else float("nan")
        await directory.aclose()
        engine.dispose()
        server_rss = peak_rss_mb(server.pid)
        ideal = requests * (args.latency_ms / 1000) / args.concurrency
        print("(a) reconciliation")
        print(f"accounts x products  : {counted['accounts']} x 3 = {counted['products']}")
        print(f"users counted        : {counted['users']}")
        print(f"unknown products     : {counted['unknown']}")
        print(f"HTTP requests        : {requests} (pages + Axiom token exchanges)")
        print(f"wall time            : {wall:.1f} s")
        print(f"ideal bound          : {ideal:.1f} s (requests x {args.latency_ms} ms / "
              f"{args.concurrency})")  # fmt: skip
        print(f"ratio                : {wall / ideal:.2f} (target <= 1.2)")
        print(f"client CPU           : {cpu:.1f} s")
        print(f"peak RSS reconciling : {timed_rss:.0f} MB during the timed part (VmHWM reset "
              f"at its start, when RSS was {start_rss:.0f} MB; target <= 300 MB)")  # fmt: skip
        print(f"peak RSS client      : {whole_life_peak_rss_mb():.0f} MB over the whole process")
        print(f"peak RSS seeding     : {seed_rss:.0f} MB (set-up, in a child process)")
        print(f"peak RSS sandbox     : {server_rss:.0f} MB")
        print(f"database             : {(folder / 'bench.db').stat().st_size / 1e6:.0f} MB")
    finally:
        server.terminate()
        server.join()
        await asyncio.to_thread(shutil.rmtree, folder)


# -- (b) posting -------------------------------------------------------------------------------


def digest_facts(n: int, team: str) -> DigestFacts:
    account = AccountView(n, f"bench{n:05d}", f"Bench {n}", "USD", "UTC", team, f"C{n:06d}")
    price = Money(3000, "USD")
    products = tuple(
        ProductReconciliation(
            product, 100, price, Interval.MONTHLY, ProductReadStatus.OK, None,
            UserCounts(
                total=80 + n % 20, active=70, inactive=10 + n % 20, idle=12, not_using=12 + n % 20
            ),
        )
        for product in Product
    )  # fmt: skip
    run = AccountReconciliation(
        account, n, NOW, NOW.date(), products, {p.product: None for p in products}, None
    )
    return DigestFacts(account, NOW, NOW - timedelta(days=1), run, (), (), (), (), None, ())


async def part_b(args: argparse.Namespace) -> None:
    port = free_port()
    server = multiprocessing.Process(
        target=serve_standin, args=(port, args.per_minute, args.burst, args.workspaces)
    )
    server.start()
    base = f"http://127.0.0.1:{port}"
    try:
        await wait_until(f"{base}/_standin/stats")
        session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=200))
        clients = {
            f"TBENCH{n:04d}": AsyncWebClient(
                token=f"xoxb-bench-{n}", base_url=f"{base}/api/", session=session, timeout=60
            )
            for n in range(args.workspaces)
        }

        async def client_for(team: str) -> AsyncWebClient | None:
            return clients.get(team)

        pacing = SlackPacing(
            PacingLimits(workspace_per_minute=args.per_minute, workspace_burst=args.burst)
        )
        poster = SlackPoster(client_for, pacing, max_attempts=20)
        where = zone("UTC")
        messages = []
        for n in range(args.digests):
            team = f"TBENCH{n % args.workspaces:04d}"
            facts = digest_facts(n, team)
            messages.append((team, facts.account.channel_id, digest_messages(facts, where)[0]))
        failed: list[str] = []

        async def post(team: str, channel: str, message: object) -> None:
            try:
                await poster.post_where(team, channel, message)  # type: ignore[arg-type]
            except SlackPostFailed as error:
                failed.append(error.message)

        started = time.monotonic()
        await asyncio.gather(*(post(t, c, m) for t, c, m in messages))  # type: ignore[arg-type]
        wall = time.monotonic() - started
        await session.close()
        async with httpx.AsyncClient() as admin:
            stats = (await admin.get(f"{base}/_standin/stats")).json()
        posted_ok = stats["by_method"].get("chat.postMessage", 0) - poster.stats.rate_limited
        budget = args.workspaces * args.per_minute / 60
        # The ideal: every workspace's burst at once, then its budget to the end.
        ideal_s = max(0.0, (args.digests / args.workspaces - args.burst)) / (args.per_minute / 60)
        rate = args.digests / wall
        print("(b) posting")
        print(f"digests              : {args.digests} over {args.workspaces} workspaces")
        print(f"budget               : {args.per_minute:g}/min per workspace (burst "
              f"{args.burst}) = {budget:.1f} msg/s in all; 1 msg/s per channel")  # fmt: skip
        print(f"wall time            : {wall:.1f} s (ideal {ideal_s:.1f} s)")
        print(f"achieved rate        : {rate:.1f} msg/s = {100 * rate / budget:.1f} % of the "
              "budget (target >= 95 %)")  # fmt: skip
        print(f"429s received        : {poster.stats.rate_limited}")
        print(f"posted (stand-in)    : {posted_ok}")
        print(f"failed posts         : {len(failed)}")
        print(f"messages lost        : {args.digests - posted_ok} (must be 0)")
        print(f"Block Kit violations : {stats['violations']}")
        print(f"peak RSS client      : {whole_life_peak_rss_mb():.0f} MB")
    finally:
        server.terminate()
        server.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("a", "b", "both"), default="both")
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--digests", type=int, default=10_000)
    parser.add_argument("--workspaces", type=int, default=100)
    parser.add_argument("--per-minute", type=float, default=120.0)
    parser.add_argument("--burst", type=int, default=5)
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()}", file=sys.stderr)
    if args.part in ("a", "both"):
        asyncio.run(part_a(args))
    if args.part in ("b", "both"):
        asyncio.run(part_b(args))
    print(f"load average after: {os.getloadavg()}", file=sys.stderr)


if __name__ == "__main__":
    main()
