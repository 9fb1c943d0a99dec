"""Fan-out benchmark: list the users of N accounts × 3 platforms against the sandbox.

The sandbox runs under uvicorn in a child process (a real HTTP server on localhost) with 50 ms
added to every request and pages of 100 users. The client lists every account through the real
clients (``platforms.factory.build_platform``) sharing one transport and one ``HostLimits``; all
accounts live on the one sandbox host, so the per-host bound is the allowed concurrency.

Prints the wall time, the ideal bound (requests × latency ÷ allowed concurrency), their ratio,
and the peak RSS of the client (``resource.getrusage``) and of the server.

    .venv/bin/python benchmarks/platform_fanout.py [--accounts 10000] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from platforms.connection import HostLimits, PlatformConnection, RetryPolicy, Timeouts
from platforms.factory import build_platform
from platforms.sandbox import DEFAULT_API_KEY, Fault, SandboxApp, SandboxConfig
from platforms.types import Product

LOGIN_EMAIL = "owner@bench.example.com"


def serve_sandbox(port: int, latency_ms: int, page_size: int) -> None:
    """Child-process mode: run the sandbox on uvicorn until killed."""
    import uvicorn

    config = SandboxConfig(
        max_per_page=page_size, faults=[Fault(kind="latency", ms=latency_ms)] if latency_ms else []
    )
    uvicorn.run(
        SandboxApp(config),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="on",
        backlog=4096,
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def wait_until_ready(base: str, deadline_s: float = 30.0) -> None:
    """Wait for the server's /healthz to answer, up to a deadline."""
    give_up = time.monotonic() + deadline_s
    async with httpx.AsyncClient(base_url=base) as client:
        while True:
            try:
                if (await client.get("/healthz")).status_code == 200:
                    return
            except httpx.TransportError:
                if time.monotonic() > give_up:
                    raise
            await asyncio.sleep(0.05)


@dataclass
class Outcome:
    listings: int = 0
    users: int = 0
    errors: int = 0


def accounts(count: int) -> Iterator[tuple[str, Product]]:
    for index in range(count):
        for product in Product:
            yield f"t{index:05d}", product


async def run_client(base: str, account_count: int, concurrency: int, page_size: int) -> Outcome:
    limits = HostLimits(per_host=concurrency)
    transport = httpx.AsyncHTTPTransport(
        limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    )
    outcome = Outcome()
    work = accounts(account_count)

    async def worker() -> None:
        for tenant, product in work:
            connection = PlatformConnection(
                product=product,
                base_url=f"{base}/t/{tenant}/{product}",
                api_key=DEFAULT_API_KEY,
                login_email=LOGIN_EMAIL,
                token=DEFAULT_API_KEY,
                page_size=page_size,
                timeouts=Timeouts(connect_s=10, read_s=30, listing_deadline_s=120),
                retry=RetryPolicy(max_attempts=3),
            )
            platform = build_platform(connection, transport=transport, limits=limits)
            try:
                users = await platform.list_users()
                # Not "+= len(await ...)": that reads the total before the await and loses updates.
                outcome.users += len(users)
            except Exception as exc:  # counted and shown: a benchmark must not hide failures
                outcome.errors += 1
                if outcome.errors <= 3:
                    print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
            finally:
                outcome.listings += 1
                await platform.aclose()

    # Twice as many workers as slots, so a worker parsing a page never leaves a slot idle.
    await asyncio.gather(*(worker() for _ in range(concurrency * 2)))
    await transport.aclose()
    return outcome


def server_cpu_s(pid: int) -> float | None:
    """User + system CPU seconds the server process has used (Linux /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def server_peak_rss_mb(pid: int) -> float | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return None


async def measure(args: argparse.Namespace, base: str, server_pid: int) -> None:
    """Run the client against the sandbox at ``base`` and print the figures."""
    await wait_until_ready(base)
    async with httpx.AsyncClient(base_url=base) as admin:
        before = (await admin.get("/_sandbox/stats")).json()["requests"]
    server_cpu_before = server_cpu_s(server_pid) or 0.0
    client_cpu_before = time.process_time()
    started = time.perf_counter()
    outcome = await run_client(base, args.accounts, args.concurrency, args.page_size)
    wall = time.perf_counter() - started
    client_cpu = time.process_time() - client_cpu_before
    server_cpu = (server_cpu_s(server_pid) or 0.0) - server_cpu_before
    async with httpx.AsyncClient(base_url=base) as admin:
        requests = (await admin.get("/_sandbox/stats")).json()["requests"] - before
    server_rss = server_peak_rss_mb(server_pid)
    ideal = requests * (args.latency_ms / 1000) / args.concurrency
    client_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(f"accounts x platforms : {args.accounts} x 3 = {outcome.listings} listings")
    print(f"users listed         : {outcome.users}")
    print(f"errors               : {outcome.errors}")
    print(f"HTTP requests        : {requests} (pages + Axiom token exchanges)")
    print(f"latency / page size  : {args.latency_ms} ms / {args.page_size} users")
    print(f"allowed concurrency  : {args.concurrency} (per host; one sandbox host)")
    print(f"wall time            : {wall:.1f} s")
    print(f"ideal bound          : {ideal:.1f} s (requests x latency / concurrency)")
    print(f"ratio                : {wall / ideal:.2f}")
    print(f"CPU client / server  : {client_cpu:.1f} s / {server_cpu:.1f} s")
    print(f"peak RSS client      : {client_rss:.0f} MB")
    print(f"peak RSS server      : {server_rss:.0f} MB" if server_rss else "peak RSS server: n/a")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--page-size", type=int, default=100)
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve_sandbox(args.serve, args.latency_ms, args.page_size)
        return
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            __file__,
            "--serve",
            str(port),
            "--latency-ms",
            str(args.latency_ms),
            "--page-size",
            str(args.page_size),
        ]
    )
    try:
        asyncio.run(measure(args, f"http://127.0.0.1:{port}", server.pid))
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
