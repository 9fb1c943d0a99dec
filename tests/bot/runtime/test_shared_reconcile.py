"""A shared reconciliation (``seatbot reconcile --share NAME``): two replicas, each with its own
engine and event loop in its own thread, reconcile the same share at once; the per-account
claims in the database split the accounts between them, and each account is reconciled exactly
once (one stored run, one succeeded claim). On SQLite and PostgreSQL (``db_url``)."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from datetime import UTC, datetime, time
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from billing.jobs import SHARED_RECONCILIATION
from billing.jobs.store import JobClaims, JobRun
from billing.reports.facts import AccountReconciliation
from billing.reports.service import Reports
from billing.reports.store import ReconciliationRun
from billing.users import Level, PlatformUser, UserStatus
from bot.runtime.db import make_engine, make_session_factory
from bot.runtime.jobs import ReportJobs
from handlers.facts import PlatformFacts
from handlers.slack_posting import SlackPosting
from platforms.types import Platform, Product
from tests.conftest import SEED_AT

ACCOUNTS = 40


class Together:
    """One replica's start line: its listings wait until both replicas have begun one (so
    both take part, whatever the machine's load), and only the first waits on the barrier."""

    def __init__(self, both_started: threading.Barrier) -> None:
        self._both = both_started
        self._started: asyncio.Future[int] | None = None

    async def wait(self) -> None:
        if self._started is None:
            self._started = asyncio.ensure_future(asyncio.to_thread(self._both.wait, 30))
        await asyncio.shield(self._started)


class SlowPlatform:
    """One user, listed in a moment, once both replicas are under way."""

    def __init__(self, together: Together) -> None:
        self.product = Product.AXIOM
        self.label = Product.AXIOM.label
        self._together = together

    async def list_users(self) -> list[PlatformUser]:
        await self._together.wait()
        await asyncio.sleep(0.005)
        return [PlatformUser("1", "u@example.com", "U", 100, Level.AGENT, UserStatus.ACTIVE)]

    async def aclose(self) -> None:
        pass


def replica(db_url: str, share: str, both_started: threading.Barrier) -> list[int]:
    """One replica's ``reconcile --share``: its own engine, claims and event loop; the ids of
    the accounts it reconciled."""
    engine = make_engine(db_url)
    sessions = make_session_factory(engine)
    together = Together(both_started)

    def platform_for(account_id: int, product: Product) -> Platform | None:
        return SlowPlatform(together)  # type: ignore[return-value]

    jobs = ReportJobs(
        reports=Reports(sessions),
        claims=JobClaims(sessions),
        facts=PlatformFacts(platform_for, deadline_s=30, recent_ttl_s=0),
        clock=lambda: SEED_AT,
        posting=SlackPosting(None),
        source="test",
        concurrency=4,
    )
    try:
        runs: list[AccountReconciliation] = asyncio.run(jobs.reconcile(None, share=share))
        return [run.account.id for run in runs]
    finally:
        engine.dispose()


def test_two_replicas_share_a_reconciliation_and_do_each_account_once(
    db_url: str, session_factory: sessionmaker[Session], seed: Any
) -> None:
    ids = {seed(f"acct{n:02d}", team_id=f"T{n}").account_id for n in range(ACCOUNTS)}
    both_started = threading.Barrier(2)
    done: dict[str, list[int]] = {}
    errors: list[BaseException] = []

    def run(name: str) -> None:
        try:
            done[name] = replica(db_url, "2026-01-10", both_started)
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=run, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert errors == []
    assert done["a"], "both take part"
    assert done["b"], "both take part"
    assert set(done["a"]) | set(done["b"]) == ids
    assert set(done["a"]).isdisjoint(done["b"])
    with session_factory() as session:
        per_account = Counter(session.scalars(select(ReconciliationRun.account_id)))
        claims = session.execute(
            select(JobRun.status, func.count())
            .where(JobRun.job_name == SHARED_RECONCILIATION)
            .group_by(JobRun.status)
        ).all()
    assert per_account == Counter(dict.fromkeys(ids, 1))  # exactly once each
    assert [tuple(row) for row in claims] == [("succeeded", ACCOUNTS)]
    # The share is done: a late replica finds nothing left; another share does it all again.
    assert replica(db_url, "2026-01-10", threading.Barrier(1)) == []
    assert len(replica(db_url, "2026-01-11", threading.Barrier(1))) == ACCOUNTS


def test_the_scheduled_shared_reconciliation_starts_once_a_day_in_each_replica(
    session_factory: sessionmaker[Session], seed: Any
) -> None:
    """``SEATBOT_RECONCILE_AT``: every replica's tick starts the day's share once from that
    time (not before, not twice); the claims split the accounts, each reconciled once."""
    ids = {seed(f"acct{n:02d}", team_id=f"T{n}").account_id for n in range(12)}
    now = [datetime(2026, 1, 10, 1, 59, tzinfo=UTC)]
    done: list[int] = []

    def replica_jobs() -> ReportJobs:
        def platform_for(account_id: int, product: Product) -> Platform | None:
            return SlowPlatform(Together(threading.Barrier(1)))  # type: ignore[return-value]

        return ReportJobs(
            reports=Reports(session_factory),
            claims=JobClaims(session_factory),
            facts=PlatformFacts(platform_for, deadline_s=30, recent_ttl_s=0),
            clock=lambda: now[0],
            posting=SlackPosting(None),
            source="test",
            concurrency=2,
        )

    async def ticks() -> list[str | None]:
        a, b = replica_jobs(), replica_jobs()
        started = [await a.reconcile_tick(time(2, 0)), await b.reconcile_tick(time(2, 0))]
        now[0] = datetime(2026, 1, 10, 2, 0, tzinfo=UTC)
        started += [await a.reconcile_tick(time(2, 0)), await b.reconcile_tick(time(2, 0))]
        started += [await a.reconcile_tick(time(2, 0))]  # the same day again: nothing
        await asyncio.gather(a.drain(), b.drain())
        return started

    assert asyncio.run(ticks()) == [None, None, "2026-01-10", "2026-01-10", None]
    with session_factory() as session:
        done.extend(session.scalars(select(ReconciliationRun.account_id)))
    assert Counter(done) == Counter(dict.fromkeys(ids, 1))
