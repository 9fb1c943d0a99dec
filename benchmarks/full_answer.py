"""Time to ack and time to the full answer, one process on SQLite beside two replicas on
PostgreSQL behind HAProxy (``benchmarks/deployments.py``), in the same run.

* **Open loop**: signed ``/seats status`` and ``/seats remove 1 axiom`` sent at a fixed rate
  (100/s) whatever the answers, as Slack sends them. For each request: the **ack** (its HTTP
  response) and the **full answer** (the reply's arrival at its ``response_url``, timed by the
  Slack stand-in), both from the request's scheduled send time (no coordinated omission).
  The sandbox platforms take ``--latency-ms`` (50) per request: each page of users, each Axiom
  token exchange.
* ``--owner-accounts N``: before the first round, the owner is given N more accounts (each
  with a draft), so that ``/seats status`` answers an owner of N + 1 accounts throughout.
* **Confirm throughput**: ``--drafts`` draft increases on as many accounts, each confirmed once
  by ``--clients`` concurrent clickers; applied changes per second, from the first click to
  the last reply.

Deployments and commands alternate (A B, A B) so that the machine's drift hits each alike.

    .venv/bin/python benchmarks/full_answer.py [--rate 100] [--seconds 5] [--rounds 2]
        [--latency-ms 50] [--drafts 400] [--clients 20] [--record]

``--record`` replaces the ``## full_answer`` section of ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from deployments import (
    CHANNEL,
    OWNER,
    REPLICA_ENV,
    REPO,
    SIGNING_SECRET,
    TEAM,
    Deployment,
    Fixtures,
    applied_count,
    balanced_deployment,
    cpu_seconds,
    fixtures,
    machine_load,
    seed_drafts,
    sqlite_deployment,
)

from bot.offline.standin.slack_driver import sign_request
from handlers import ids

RESULTS = REPO / "benchmarks" / "RESULTS.md"
COMMANDS = {"status": "status", "remove": "remove 1 axiom"}


class CpuMeter:
    """Cores used by each role (seatbot, postgres, haproxy, fixtures, load generator) over a
    phase: CPU seconds from /proc divided by the phase's wall time."""

    def __init__(self, d: Deployment, f: Fixtures) -> None:
        self.roles = d.processes()
        self.roles["fixtures"] = [f.process.pid]
        self.roles["load"] = [os.getpid()]

    def _sample(self) -> dict[str, float]:
        return {
            role: sum(cpu_seconds(pid, with_children=role == "postgres") for pid in pids)
            for role, pids in self.roles.items()
        }

    def __enter__(self) -> CpuMeter:
        self.began, self.before = time.monotonic(), self._sample()
        return self

    def __exit__(self, *exc: object) -> None:
        wall = time.monotonic() - self.began
        after = self._sample()
        self.cores = {role: (after[role] - self.before[role]) / wall for role in after}

    def shown(self) -> str:
        return "cores: " + ", ".join(f"{role} {used:.2f}" for role, used in self.cores.items())


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else 0.0


@dataclass
class Series:
    ack: list[float] = field(default_factory=list)
    full: list[float] = field(default_factory=list)
    failures: int = 0
    unanswered: int = 0


class Slack:
    """The load generator's side: signed bodies, response URLs, and the stand-in's record."""

    def __init__(self, http: httpx.AsyncClient, f: Fixtures) -> None:
        self.http = http
        self.standin_url = f.standin_url

    async def response_urls(self, count: int) -> list[str]:
        minted = await self.http.post(
            f"{self.standin_url}/_standin/response_urls", json={"channel": CHANNEL, "count": count}
        )
        return list(minted.json()["response_urls"])

    def command_body(self, text: str, response_url: str, index: int) -> str:
        return urlencode(
            {
                "token": "unused", "team_id": TEAM, "team_domain": "acme",
                "channel_id": CHANNEL, "channel_name": "seats", "user_id": OWNER,
                "user_name": "owner", "command": "/seats", "text": text,
                "api_app_id": "A0SEATBOT", "is_enterprise_install": "false",
                "response_url": response_url, "trigger_id": f"{index}.bench",
            }
        )  # fmt: skip

    def confirm_body(self, value: str, response_url: str) -> str:
        import json

        payload = {
            "type": "block_actions",
            "team": {"id": TEAM, "domain": "acme"},
            "user": {"id": OWNER, "username": "owner", "team_id": TEAM},
            "api_app_id": "A0SEATBOT",
            "token": "unused",
            "trigger_id": "1.bench",
            "channel": {"id": CHANNEL, "name": "seats"},
            "container": {"type": "message", "is_ephemeral": True},
            "response_url": response_url,
            "actions": [
                {
                    "type": "button",
                    "action_id": ids.CONFIRM_ACTION,
                    "block_id": ids.PROMPT_ACTIONS_BLOCK,
                    "value": value,
                    "text": {"type": "plain_text", "text": "Confirm"},
                    "action_ts": "1.0",
                }
            ],
        }
        return urlencode({"payload": json.dumps(payload)})

    async def send(self, url: str, body: str) -> int:
        headers = sign_request(body, SIGNING_SECRET, int(time.time()))
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            response = await self.http.post(url, content=body.encode(), headers=headers)
        except httpx.HTTPError:
            return 0
        return response.status_code

    async def last_seq(self) -> int:
        """The stand-in's newest call number (replies after it belong to the next phase)."""
        stats = (await self.http.get(f"{self.standin_url}/_standin/stats")).json()
        return int(stats["last_seq"])

    async def replies(
        self, keys: set[str], after: int, within_s: float = 120.0
    ) -> dict[str, float]:
        """When each response URL in ``keys`` got its first reply (stand-in monotonic time),
        looking only at calls numbered above ``after`` (polling all of them would load the
        stand-in more and more as the run goes on)."""
        deadline = time.monotonic() + within_s
        arrived: dict[str, float] = {}
        seen = after
        while True:
            found = await self.http.get(
                f"{self.standin_url}/_standin/calls",
                params={"after": seen, "method": "response_url"},
            )
            for call in found.json()["calls"]:
                seen = max(seen, int(call["seq"]))
                key = str(call["args"].get("response_url"))
                if key in keys and key not in arrived:
                    arrived[key] = float(call["at"])
            if len(arrived) == len(keys) or time.monotonic() > deadline:
                return arrived
            await asyncio.sleep(0.5)


async def open_loop(slack: Slack, url: str, text: str, rate: float, seconds: float) -> Series:
    count = int(rate * seconds)
    urls = await slack.response_urls(count)
    bodies = [slack.command_body(text, u, i) for i, u in enumerate(urls)]
    mark = await slack.last_seq()
    start = time.monotonic() + 0.05
    series = Series()
    scheduled_at: dict[str, float] = {}

    async def one(index: int, body: str, response_url: str) -> None:
        scheduled = start + index / rate
        scheduled_at[response_url.rsplit("/", 1)[-1]] = scheduled
        await asyncio.sleep(max(0.0, scheduled - time.monotonic()))
        status = await slack.send(url, body)
        series.ack.append(time.monotonic() - scheduled)
        if status != 200:
            series.failures += 1

    await asyncio.gather(*(one(i, b, u) for i, (b, u) in enumerate(zip(bodies, urls, strict=True))))
    arrived = await slack.replies(set(scheduled_at), mark)
    series.unanswered = len(scheduled_at) - len(arrived)
    series.full = [arrived[key] - scheduled_at[key] for key in arrived]
    return series


async def confirm_throughput(
    slack: Slack, d: Deployment, drafts: int, clients: int, prefix: str
) -> tuple[float, int, int]:
    """Applied changes per second; applied count; non-200 answers."""
    values = await asyncio.to_thread(seed_drafts, d.database_url, drafts, prefix=prefix)
    urls = await slack.response_urls(len(values))
    work = list(zip(values, urls, strict=True))
    failures = 0
    url = f"{d.url}/slack/events"

    async def clicker() -> None:
        nonlocal failures
        while work:
            value, response_url = work.pop()
            if await slack.send(url, slack.confirm_body(value, response_url)) != 200:
                failures += 1

    mark = await slack.last_seq()
    began = time.monotonic()
    await asyncio.gather(*(clicker() for _ in range(clients)))
    arrived = await slack.replies({u.rsplit("/", 1)[-1] for u in urls}, mark)
    last = max(arrived.values()) if arrived else time.monotonic()
    applied = await asyncio.to_thread(applied_count, d.database_url, prefix)
    return applied / (last - began), applied, failures


async def measure(deployments: list[Deployment], f: Fixtures, args: argparse.Namespace) -> str:
    limits = httpx.Limits(max_connections=300, max_keepalive_connections=300)
    figures: dict[tuple[str, str], Series] = {}
    throughput: dict[str, list[tuple[float, int, int]]] = {d.name: [] for d in deployments}
    rounds: list[str] = []
    async with httpx.AsyncClient(timeout=60.0, limits=limits) as http:
        slack = Slack(http, f)
        for d in deployments:  # the owner's other accounts (issue 18: constant cost)
            if args.owner_accounts:
                await asyncio.to_thread(
                    seed_drafts, d.database_url, args.owner_accounts, prefix="owned"
                )
                # The statistics autovacuum gathers within a minute in production: without
                # them PostgreSQL joins the new accounts to their members row by row.
                await asyncio.to_thread(analyze, d.database_url)
        for d in deployments:  # warm-up: connections, auth.test, platform tokens, caches
            for text in COMMANDS.values():
                await open_loop(slack, f"{d.url}/slack/events", text, 20, 1)
        for number in range(1, args.rounds + 1):
            for d in deployments:
                for name, text in COMMANDS.items():
                    with CpuMeter(d, f) as meter:
                        series = await open_loop(
                            slack, f"{d.url}/slack/events", text, args.rate, args.seconds
                        )
                    total = figures.setdefault((d.name, name), Series())
                    total.ack += series.ack
                    total.full += series.full
                    total.failures += series.failures
                    total.unanswered += series.unanswered
                    line = (
                        f"round {number} {d.name:24} {name:7} ack p50 "
                        f"{percentile(series.ack, 0.5) * 1000:7.1f} p99 "
                        f"{percentile(series.ack, 0.99) * 1000:7.1f} ms | full p50 "
                        f"{percentile(series.full, 0.5) * 1000:7.1f} p99 "
                        f"{percentile(series.full, 0.99) * 1000:7.1f} ms | non-200 "
                        f"{series.failures} unanswered {series.unanswered} | {meter.shown()}"
                    )
                    print(line, flush=True)
                    rounds.append(line)
            for d in deployments:
                with CpuMeter(d, f) as meter:
                    result = await confirm_throughput(
                        slack, d, args.drafts, args.clients, prefix=f"bench{number}"
                    )
                throughput[d.name].append(result)
                line = (
                    f"round {number} {d.name:24} confirm {result[0]:7.1f} applied/s "
                    f"({result[1]} applied, non-200 {result[2]}) | {meter.shown()}"
                )
                print(line, flush=True)
                rounds.append(line)
    return report(deployments, figures, throughput, rounds, args)


def analyze(database_url: str) -> None:
    """``ANALYZE`` a PostgreSQL database (SQLite's planner needs no statistics)."""
    if not database_url.startswith("postgresql"):
        return
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    engine = create_engine(database_url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.exec_driver_sql("ANALYZE")
    engine.dispose()


def report(
    deployments: list[Deployment],
    figures: dict[tuple[str, str], Series],
    throughput: dict[str, list[tuple[float, int, int]]],
    rounds: list[str],
    args: argparse.Namespace,
) -> str:
    def ms(values: list[float], fraction: float) -> str:
        return f"{percentile(values, fraction) * 1000:.1f}"

    table = [
        "| deployment | command | ack p50 (ms) | ack p99 (ms) | full answer p50 (ms) "
        "| full answer p99 (ms) | non-200 | unanswered |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for d in deployments:
        for name, text in COMMANDS.items():
            s = figures[(d.name, name)]
            table.append(
                f"| {d.name} | `/seats {text}` | {ms(s.ack, 0.5)} | {ms(s.ack, 0.99)} | "
                f"{ms(s.full, 0.5)} | {ms(s.full, 0.99)} | {s.failures} | {s.unanswered} |"
            )
    table += [
        "",
        "| deployment | Confirm throughput (applied changes/s, per round) | applied | non-200 |",
        "|---|---|---|---|",
    ]
    for d in deployments:
        results = throughput[d.name]
        table.append(
            f"| {d.name} | {' / '.join(f'{r[0]:.0f}' for r in results)} | "
            f"{sum(r[1] for r in results)} of {args.drafts * len(results)} | "
            f"{sum(r[2] for r in results)} |"
        )
    return "\n".join(
        [
            "## full_answer",
            "",
            f"- **Date**: {datetime.now(UTC):%Y-%m-%d}",
            f"- **Machine**: {os.cpu_count()} cores ({platform.system()}), Python "
            f"{platform.python_version()}, PostgreSQL 15 (private server, fsync off), HAProxy "
            f"2.6; load average (1/5/15 min) {args.load_before} before, {machine_load()} after "
            "(other engineers' work on the machine counts in it)",
            f"- **Command**: `.venv/bin/python benchmarks/full_answer.py --rate {args.rate:g} "
            f"--seconds {args.seconds:g} --rounds {args.rounds} --latency-ms {args.latency_ms} "
            f"--drafts {args.drafts} --clients {args.clients}"
            + (f" --owner-accounts {args.owner_accounts}" if args.owner_accounts else "")
            + "".join(f" --replica-env {item}" for item in args.replica_env)
            + "`",
            "- **Setup**: `sqlite ×1` is one `seatbot serve` on an SQLite file; `postgres ×2 + "
            "haproxy` is two `seatbot serve` replicas on one PostgreSQL behind HAProxy (round "
            "robin, `/readyz` health checks). Both load `examples/accounts.yml`; the Slack "
            "stand-in (validating every reply's Block Kit) and the sandbox platforms "
            f"({args.latency_ms} ms per request) share one child process; the load generator "
            "is this process. Everything runs on the same 2 cores.",
            f"- **Open loop**: {args.rate:g} requests/s for {args.seconds:g} s per deployment "
            "per command per round; ack = the HTTP response, full answer = the reply's "
            "arrival at its `response_url`, both from the scheduled send time.",
            f"- **Confirm throughput**: {args.drafts} draft increases on as many accounts, "
            f"confirmed once each by {args.clients} concurrent clickers; applied changes per "
            "second from the first click to the last reply.",
            "",
            *table,
            "",
            "Per-round figures:",
            "",
            "```",
            *rounds,
            "```",
            "",
        ]
    )


def record(section: str) -> None:
    text = RESULTS.read_text(encoding="utf-8")
    start = text.find("## full_answer")
    if start == -1:
        text = text.rstrip("\n") + "\n\n" + section
    else:
        following = text.find("\n## ", start + 1)
        end = len(text) if following == -1 else following + 1
        text = text[:start] + section + ("\n" + text[end:] if following != -1 else "")
    RESULTS.write_text(text.rstrip("\n") + "\n", encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=100.0, help="open-loop requests per second")
    parser.add_argument("--seconds", type=float, default=5.0, help="open-loop duration")
    parser.add_argument("--rounds", type=int, default=2, help="A B rounds")
    parser.add_argument("--latency-ms", type=int, default=50, help="platform latency per request")
    parser.add_argument("--drafts", type=int, default=400, help="drafts confirmed per round")
    parser.add_argument("--clients", type=int, default=20, help="concurrent Confirm clickers")
    parser.add_argument(
        "--owner-accounts", type=int, default=0,
        help="accounts (each with a draft) the owner holds besides the example's, from round 1",
    )  # fmt: skip
    parser.add_argument(
        "--only", choices=["sqlite", "balanced"], help="measure one deployment (diagnostics)"
    )
    parser.add_argument("--commands", default="status,remove", help="which of status,remove")
    parser.add_argument(
        "--replica-env", action="append", default=[], metavar="NAME=VALUE",
        help="extra environment for every seatbot serve process (diagnostics)",
    )  # fmt: skip
    parser.add_argument(
        "--folder", type=Path, help="keep databases and logs in this (empty) folder"
    )
    parser.add_argument("--record", action="store_true", help="write benchmarks/RESULTS.md")
    args = parser.parse_args()
    REPLICA_ENV.update(item.split("=", 1) for item in args.replica_env)
    for name in list(COMMANDS):
        if name not in args.commands.split(","):
            del COMMANDS[name]
    args.load_before = machine_load()
    with tempfile.TemporaryDirectory(prefix="seatbot-full-") as tmp, ExitStack() as stack:
        folder = args.folder or Path(tmp)
        f = stack.enter_context(fixtures(folder, args.latency_ms))
        deployments = []
        if args.only in (None, "sqlite"):
            deployments.append(stack.enter_context(sqlite_deployment(folder, f)))
        if args.only in (None, "balanced"):
            deployments.append(stack.enter_context(balanced_deployment(folder, f)))
        section = asyncio.run(measure(deployments, f, args))
    print()
    print(section)
    if args.record:
        record(section)


if __name__ == "__main__":
    main()
