"""The two deployments the benchmarks compare, started side by side on this machine:

* **sqlite** — one ``seatbot serve`` process on an SQLite file (the default set-up);
* **postgres ×2 + haproxy** — a private PostgreSQL server, two ``seatbot serve`` replicas on it
  and HAProxy in front (``tests/deploy_harness.py``: the configuration the load-balancer tests
  use, health checks on ``/readyz``).

Both load ``examples/accounts.yml`` and talk to the same Slack stand-in and sandbox platforms,
which run in a child process of their own; the sandbox adds ``latency_ms`` to every request
(each page of users, each Axiom token exchange).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from deploy_harness import (  # noqa: E402
    LoadBalancer,
    Replica,
    free_port,
    private_postgres,
    replica_environment,
    start_replicas,
    wait_for_status,
)

SIGNING_SECRET = "bench-signing-secret"  # noqa: S105 - a throwaway secret for a local benchmark
BOT_TOKEN = "xoxb-bench-local-only"  # noqa: S105 - only the local stand-in accepts it
TOKEN_KEY = "0Yjc4mZ3kAs1WwXyvoV8v6l0hZBzXnC1Q2tY3u4s5Pw="  # noqa: S105 - a local benchmark key
TEAM = "T0ACME001"
OWNER = "U0ACMEOWNER"
CHANNEL = "C0ACMESEATS"
ACCOUNT = "acme"
EXAMPLE_SANDBOX_URL = "http://127.0.0.1:8765"
SANDBOX_USERS = {"contact_center": 23, "axiom": 11, "matrix": 8}
ME = Path(__file__).resolve()


def serve_fixtures(standin_port: int, sandbox_port: int, latency_ms: int) -> None:
    """Child process: the Slack stand-in and the sandbox platforms, until killed."""
    from bot.offline.standin import SlackStandIn
    from bot.offline.standin.slack_api import serve_asgi
    from platforms.sandbox import Fault, SandboxApp, SandboxConfig

    async def main() -> None:
        faults = [Fault(kind="latency", ms=latency_ms)] if latency_ms else []
        sandbox = SandboxApp(SandboxConfig(faults=faults))
        for product, users in SANDBOX_USERS.items():
            sandbox.set_account(ACCOUNT, product, users=users, seed=7)
        standin = SlackStandIn()
        standin.add_workspace(TEAM, BOT_TOKEN, team_name="Acme Telecom")
        servers = [
            serve_asgi(standin.asgi_app, port=standin_port),
            serve_asgi(sandbox, port=sandbox_port),
        ]
        standin.base_url = servers[0].url
        await asyncio.gather(*(s.task for s in servers))

    asyncio.run(main())


@dataclass
class Fixtures:
    standin_url: str
    sandbox_url: str
    process: subprocess.Popen[bytes]

    @property
    def api_url(self) -> str:
        return f"{self.standin_url}/api/"


@contextlib.contextmanager
def fixtures(folder: Path, latency_ms: int) -> Iterator[Fixtures]:
    """The stand-in and the sandbox in their own process."""
    standin_port, sandbox_port = free_port(), free_port()
    with (folder / "fixtures.log").open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, str(ME), "--child-fixtures", str(standin_port), str(sandbox_port),
             str(latency_ms)],
            cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    running = Fixtures(
        f"http://127.0.0.1:{standin_port}", f"http://127.0.0.1:{sandbox_port}", process
    )
    try:
        wait_for_status(f"{running.standin_url}/_standin/stats", 200, within_s=60)
        yield running
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def load_accounts(database_url: str, sandbox_url: str, folder: Path) -> None:
    """``examples/accounts.yml`` (pointed at ``sandbox_url``) into a migrated database."""
    from bot.runtime.db import make_engine, make_session_factory, upgrade
    from bot.setup.loader import apply_config, load_file

    examples = folder / "examples"
    examples.mkdir(exist_ok=True)
    for example in (REPO / "examples").iterdir():
        if example.is_file():
            shutil.copy(example, examples / example.name)
    accounts = examples / "accounts.yml"
    accounts.write_text(
        accounts.read_text(encoding="utf-8").replace(EXAMPLE_SANDBOX_URL, sandbox_url),
        encoding="utf-8",
    )
    upgrade(database_url)
    engine = make_engine(database_url)
    # The credentials are sealed with the key the replicas are given.
    previous = os.environ.get("SEATBOT_TOKEN_KEYS")
    os.environ["SEATBOT_TOKEN_KEYS"] = TOKEN_KEY
    try:
        with make_session_factory(engine).begin() as session:
            apply_config(session, load_file(accounts), datetime.now(UTC))
    finally:
        engine.dispose()
        if previous is None:
            del os.environ["SEATBOT_TOKEN_KEYS"]
        else:
            os.environ["SEATBOT_TOKEN_KEYS"] = previous


def seed_drafts(database_url: str, count: int, *, prefix: str) -> list[str]:
    """``count`` accounts (one Axiom subscription of 10 seats each, owned by :data:`OWNER`),
    each with a draft increase to 11 seats; the Confirm button value of each draft."""
    from billing.access import Caller
    from billing.models import Account, Member, Role, Subscription
    from billing.periods import Interval, period_at, zone
    from billing.seats import ReadyToConfirm, SeatChanges
    from bot.runtime.db import make_engine, make_session_factory

    now = datetime.now(UTC)
    anchor = date(now.year, now.month, 1)
    period = period_at(anchor, Interval.MONTHLY, now, zone("UTC"))
    engine = make_engine(database_url)
    sessions = make_session_factory(engine)
    values: list[str] = []
    try:
        ids: list[tuple[int, int]] = []
        with sessions.begin() as session:
            for n in range(count):
                # A channel of its own: /seats in the example account's channel must still
                # mean that account.
                account = Account(
                    name=f"{prefix}-{n}", display_name=f"Bench {n}", currency="USD",
                    timezone="UTC", team_id=TEAM, channel_id=f"C0{prefix.upper()}{n}",
                )  # fmt: skip
                session.add(account)
                session.flush()
                session.add(
                    Member(account_id=account.id, team_id=TEAM, user_id=OWNER, role=Role.OWNER)
                )
                subscription = Subscription(
                    account_id=account.id, product="axiom", seats=10, initial_seats=10,
                    started_at=period.start, unit_price_minor=3000, currency="USD",
                    interval=Interval.MONTHLY.value, anchor=anchor, proration_rule="daily",
                    decrease_policy="prorated", current_period_start=period.start,
                    current_period_end=period.end, version=1,
                )  # fmt: skip
                session.add(subscription)
                session.flush()
                ids.append((account.id, subscription.id))
        changes = SeatChanges(sessions, quote_ttl=timedelta(hours=1))
        for account_id, subscription_id in ids:
            draft = changes.request_by_form(
                Caller(TEAM, OWNER),
                account_id=account_id,
                subscription_id=subscription_id,
                new_seats=11,
                at=now,
                users=None,
            )
            assert isinstance(draft, ReadyToConfirm), draft
            values.append(f"{draft.request.id}.{draft.request.revision}")
    finally:
        engine.dispose()
    return values


def applied_count(database_url: str, prefix: str) -> int:
    """Requests applied on the accounts :func:`seed_drafts` made with ``prefix``."""
    from sqlalchemy import func, select

    from billing.models import Account, SeatChangeRequest, Subscription
    from bot.runtime.db import make_engine, make_session_factory

    engine = make_engine(database_url)
    try:
        with make_session_factory(engine)() as session:
            return int(
                session.scalar(
                    select(func.count())
                    .select_from(SeatChangeRequest)
                    .join(Subscription, Subscription.id == SeatChangeRequest.subscription_id)
                    .join(Account, Account.id == Subscription.account_id)
                    .where(SeatChangeRequest.status == "applied", Account.name.like(f"{prefix}-%"))
                )
                or 0
            )
    finally:
        engine.dispose()


@dataclass
class Deployment:
    """One way of running Seatbot: where Slack's requests go, and what runs it."""

    name: str
    url: str
    database_url: str
    replicas: list[Replica] = field(default_factory=list)
    balancer: LoadBalancer | None = None
    postgres_data: Path | None = None

    def processes(self) -> dict[str, list[int]]:
        """The process ids doing this deployment's work, by role (for CPU accounting)."""
        roles: dict[str, list[int]] = {
            "seatbot": [r.process.pid for r in self.replicas if r.process is not None]
        }
        if self.balancer is not None and self.balancer.process is not None:
            roles["haproxy"] = [self.balancer.process.pid]
        if self.postgres_data is not None:
            pid_file = self.postgres_data / "postmaster.pid"
            if pid_file.exists():
                roles["postgres"] = [int(pid_file.read_text().split()[0])]
        return roles


_TICKS = os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                stat = (entry / "stat").read_text()
                if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
    return found


def cpu_seconds(pid: int, *, with_children: bool = False) -> float:
    """CPU time (user + system) of ``pid``; with ``with_children``, also of its children, the
    live ones and those it has reaped (a PostgreSQL server's backends)."""
    try:
        fields = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    # After the command: state, ppid, …; utime, stime, cutime, cstime are fields 14-17.
    used = int(fields[11]) + int(fields[12])
    if with_children:
        used += int(fields[13]) + int(fields[14])
        used += sum(cpu_seconds(child) * _TICKS for child in _children(pid))
    return used / _TICKS


#: Extra environment for every replica (``--replica-env NAME=VALUE`` in the benchmarks).
REPLICA_ENV: dict[str, str] = {}


def _environment(database_url: str, f: Fixtures) -> dict[str, str]:
    return replica_environment(
        database_url,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_API_URL=f.api_url,
        SEATBOT_TOKEN_KEYS=TOKEN_KEY,
        SEATBOT_QUOTE_TTL_SECONDS="3600",
        **REPLICA_ENV,
    )


@contextlib.contextmanager
def sqlite_deployment(folder: Path, f: Fixtures) -> Iterator[Deployment]:
    """One ``seatbot serve`` on SQLite."""
    place = folder / "sqlite"
    place.mkdir()
    url = f"sqlite:///{place / 'seatbot.db'}"
    load_accounts(url, f.sandbox_url, place)
    [replica] = start_replicas(1, _environment(url, f), place)
    try:
        yield Deployment("sqlite ×1", replica.url, url, [replica])
    finally:
        replica.stop()


@contextlib.contextmanager
def balanced_deployment(folder: Path, f: Fixtures, replicas: int = 2) -> Iterator[Deployment]:
    """``replicas`` ``seatbot serve`` processes on a private PostgreSQL, behind HAProxy."""
    place = folder / "postgres"
    place.mkdir()
    with private_postgres() as postgres:
        url = postgres.url
        load_accounts(url, f.sandbox_url, place)
        started = start_replicas(replicas, _environment(url, f), place)
        balancer = LoadBalancer(started, place)
        try:
            balancer.start()
            yield Deployment(
                f"postgres ×{replicas} + haproxy",
                balancer.url,
                url,
                started,
                balancer,
                postgres.data,
            )
        finally:
            balancer.stop()
            for replica in started:
                replica.stop()


def machine_load() -> str:
    """The 1-, 5- and 15-minute load averages, as ``uptime`` shows them."""
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f}"


if __name__ == "__main__" and len(sys.argv) > 1 and sys.argv[1] == "--child-fixtures":
    serve_fixtures(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
