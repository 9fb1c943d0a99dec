"""Reconciliation scaled out (issue 18): one runner against two sharing the work, and the CLI
against the ideal bound.

(shared) ``--accounts`` accounts × 3 products on PostgreSQL, each connected to the sandbox (a
child process, ``--latency-ms`` added to every request, pages of 100, 5–250 users per account),
reconciled by the real report jobs (:class:`bot.runtime.jobs.ReportJobs`, ``HostLimits`` of
``--concurrency`` per host, as ``seatbot reconcile`` runs them) with ``share``: first by one
runner process, then by two at once with the same share, each its own process (a replica).
The runners are started and ready (imports, engine) before the clock starts; the time is from
"go" to the last runner's end. Prints both times, their ratio (target ≤ 0.6) and each runner's
accounts and CPU; every account must be reconciled exactly once per share.

(cli) ``--cli-accounts`` accounts on SQLite reconciled by ``seatbot reconcile --json`` as a
process of its own (``python -m bot.cli``), start-up included, against the ideal bound (HTTP
requests × latency ÷ the allowed concurrency, 8 per host): target ≤ 1.3. Then the same
requests made by bare httpx (no Seatbot code: token, pages, nothing parsed beyond JSON) at the
same concurrency: the floor that this sandbox, httpx and the machine allow, beside the bound.

    .venv/bin/python benchmarks/shared_reconcile.py [--part shared|cli|both] [--accounts 10000]

PostgreSQL comes from ``SEATBOT_TEST_POSTGRES_URL`` (a server URL whose user may create
databases); the benchmark creates its own database and drops it.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import Any

import httpx
from reports import KEY, free_port, report_jobs, seed_in_child, serve_sandbox, wait_until
from sqlalchemy import create_engine, func, make_url, select, text
from sqlalchemy.pool import NullPool

from billing.products import Product
from bot.runtime.db import upgrade
from platforms.sandbox import DEFAULT_API_KEY

PG_ENV = "SEATBOT_TEST_POSTGRES_URL"


def cpu_seconds(pid: int) -> float:
    """User + system CPU of process ``pid`` so far (``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def runner(url: str, share: str, per_host: int, ready: Any, go: Event, results: Any) -> None:
    """One replica: ready its report jobs, wait for ``go``, reconcile the share."""
    from bot.runtime.db import make_engine, make_session_factory

    async def main() -> tuple[int, float, float]:
        engine = make_engine(url)
        sessions = make_session_factory(engine)
        jobs, directory = report_jobs(sessions, per_host)
        done = 0

        def on_batch(runs: list[Any]) -> None:
            nonlocal done
            done += len(runs)

        ready.put(os.getpid())
        await asyncio.to_thread(go.wait)
        cpu, started = time.process_time(), time.monotonic()
        await jobs.reconcile(None, share=share, on_batch=on_batch)
        wall, cpu = time.monotonic() - started, time.process_time() - cpu
        await directory.aclose()
        engine.dispose()
        return done, wall, cpu

    results.put(asyncio.run(main()))


def run_share(url: str, share: str, replicas: int, per_host: int) -> tuple[float, list[Any]]:
    """``replicas`` runner processes on ``share`` at once: the wall time from "go" to the last
    one's end, and each one's (accounts, wall, CPU)."""
    spawn = multiprocessing.get_context("spawn")
    ready, results, go = spawn.Queue(), spawn.Queue(), spawn.Event()
    children = [
        spawn.Process(target=runner, args=(url, share, per_host, ready, go, results))
        for _ in range(replicas)
    ]
    for child in children:
        child.start()
    for _ in children:
        ready.get(timeout=120)
    started = time.monotonic()
    go.set()
    found = [results.get() for _ in children]
    wall = time.monotonic() - started
    for child in children:
        child.join()
        if child.exitcode != 0:
            raise SystemExit(f"a runner failed (exit {child.exitcode})")
    return wall, found


def fresh_database(server_url: str) -> str:
    name = f"seatbot_bench_{os.getpid()}_{secrets.token_hex(3)}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    admin.dispose()
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def drop_database(server_url: str, url: str) -> None:
    name = make_url(url).database
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


def once_each(url: str, share: str) -> tuple[int, int]:
    """(accounts with a succeeded claim in ``share``, the most runs stored for one account)."""
    engine = create_engine(url, poolclass=NullPool)
    with engine.connect() as connection:
        claimed = connection.execute(
            text(
                "SELECT count(*) FROM job_runs WHERE job_name = 'shared reconciliation' "
                "AND status = 'succeeded' AND run_key LIKE :prefix"
            ),
            {"prefix": f"{share}/%"},
        ).scalar_one()
        most = connection.execute(
            select(func.max(text("n"))).select_from(
                text("(SELECT count(*) AS n FROM reconciliation_runs GROUP BY account_id) AS c")
            )
        ).scalar_one()
    engine.dispose()
    return claimed, most or 0


def sandbox_requests(base: str) -> int:
    return int(httpx.get(f"{base}/_sandbox/stats").json()["requests"])


def part_shared(args: argparse.Namespace, base: str, sandbox_pid: int) -> None:
    server_url = os.environ.get(PG_ENV)
    if not server_url:
        raise SystemExit(f"set {PG_ENV} to a PostgreSQL server URL")
    url = fresh_database(server_url)
    try:
        upgrade(url)
        seed_in_child(url, args.accounts, base)
        print(f"(shared) {args.accounts} accounts x 3 products, PostgreSQL, "
              f"{args.latency_ms} ms a page, {args.per_host} per host per runner")  # fmt: skip
        walls = {}
        for replicas, share in ((1, "one"), (2, "two")):
            before, cpu_before = sandbox_requests(base), cpu_seconds(sandbox_pid)
            load = os.getloadavg()[0]
            wall, found = run_share(url, share, replicas, args.per_host)
            requests = sandbox_requests(base) - before
            ideal = requests * args.latency_ms / 1000 / (args.per_host * replicas)
            claimed, _ = once_each(url, share)
            walls[replicas] = wall
            sandbox_cpu = cpu_seconds(sandbox_pid) - cpu_before
            print(f"{replicas} runner(s): {wall:.1f} s wall, ideal {ideal:.1f} s "
                  f"({requests} requests), ratio {wall / ideal:.2f}; sandbox CPU "
                  f"{sandbox_cpu:.1f} s; load before {load:.2f}")  # fmt: skip
            for n, (done, own_wall, cpu) in enumerate(found):
                print(f"  runner {n + 1}: {done} accounts, {own_wall:.1f} s, CPU {cpu:.1f} s")
            total = sum(done for done, _, _ in found)
            print(f"  accounts reconciled {total}, claims succeeded {claimed} "
                  f"(expected {args.accounts} each)")  # fmt: skip
        _, most = once_each(url, "two")
        print(f"most runs stored for one account over both shares: {most} (expected 2)")
        print(f"two runners / one runner: {walls[2] / walls[1]:.2f} (target <= 0.6)")
    finally:
        drop_database(server_url, url)


def part_cli(args: argparse.Namespace, base: str) -> None:
    folder = Path(tempfile.mkdtemp(prefix="seatbot-bench-cli-"))
    url = f"sqlite:///{folder / 'cli.db'}"
    try:
        upgrade(url)
        seed_in_child(url, args.cli_accounts, base)
        env = dict(os.environ, DATABASE_URL=url, SEATBOT_TOKEN_KEYS=KEY)
        env.pop("SLACK_BOT_TOKEN", None)
        before = sandbox_requests(base)
        load = os.getloadavg()[0]
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-m", "bot.cli", "reconcile", "--json"],
            env=env, capture_output=True, text=True, check=False,
        )  # fmt: skip
        wall = time.monotonic() - started
        requests = sandbox_requests(base) - before
        ideal = requests * args.latency_ms / 1000 / 8
        print(f"(cli) seatbot reconcile --json, {args.cli_accounts} accounts x 3 products, "
              f"SQLite: exit {done.returncode}, {wall:.1f} s wall (start-up included), ideal "
              f"{ideal:.1f} s ({requests} requests x {args.latency_ms} ms / 8), ratio "
              f"{wall / ideal:.2f} (target <= 1.3); load before {load:.2f}")  # fmt: skip
        if done.returncode != 0:
            print(done.stderr[-2000:])
        requests, wall = asyncio.run(bare_requests(base, args.cli_accounts))
        ideal = requests * args.latency_ms / 1000 / 8
        print(f"(cli) the same {requests} requests by bare httpx, 8 in flight: {wall:.1f} s, "
              f"ratio {wall / ideal:.2f} to the ideal bound")  # fmt: skip
    finally:
        shutil.rmtree(folder)


async def bare_requests(base: str, accounts: int) -> tuple[int, float]:
    """What ``seatbot reconcile`` asks the sandbox for those accounts (Axiom's token, every
    page of every product), sent by bare httpx with 8 in flight; requests and seconds."""
    in_flight, accounts_at_once = asyncio.Semaphore(8), asyncio.Semaphore(64)
    sent = 0
    async with httpx.AsyncClient(timeout=120) as http:

        async def send(method: str, url: str, **options: Any) -> Any:
            nonlocal sent
            async with in_flight:
                response = await http.request(method, url, **options)
            sent += 1
            return response.raise_for_status().json()

        async def product(tenant: str, name: str) -> None:
            root = f"{base}/t/{tenant}/{name}/api/v1"
            token = DEFAULT_API_KEY
            if name == Product.AXIOM.value:
                login = {"apiKey": DEFAULT_API_KEY, "email": "owner@bench.example.com"}
                token = (await send("POST", f"{root}/auth/token", json=login))["accessToken"]
            page = 1
            while True:
                query = {"page": page, "perPage": 100}
                body = await send(
                    "GET", f"{root}/users", params=query, headers={"Authorization": token}
                )
                if len(body["data"]) < 100:
                    return
                page += 1

        async def account(n: int) -> None:
            async with accounts_at_once:
                await asyncio.gather(*(product(f"bench{n:05d}", p.value) for p in Product))

        started = time.monotonic()
        await asyncio.gather(*(account(n) for n in range(accounts)))
        return sent, time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["shared", "cli", "both"], default="both")
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--cli-accounts", type=int, default=300)
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--per-host", type=int, default=8)
    args = parser.parse_args()
    port = free_port()
    sandbox = multiprocessing.Process(target=serve_sandbox, args=(port, args.latency_ms))
    sandbox.start()
    base = f"http://127.0.0.1:{port}"
    try:
        asyncio.run(wait_until(f"{base}/healthz"))
        print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()}")
        if args.part in ("cli", "both"):
            part_cli(args, base)
        if args.part in ("shared", "both"):
            assert sandbox.pid is not None
            part_shared(args, base, sandbox.pid)
        print(f"load average after: {os.getloadavg()}")
    finally:
        sandbox.terminate()
        sandbox.join()


if __name__ == "__main__":
    main()
