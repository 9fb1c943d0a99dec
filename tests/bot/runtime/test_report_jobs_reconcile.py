"""ReportJobs.reconcile over many accounts: each stored once, in batches, in order, with the
users counted from the listings; a failure is raised, never swallowed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from billing.jobs.store import JobClaims
from billing.reports.facts import AccountReconciliation
from billing.reports.rules import ProductChange
from billing.reports.service import Reports
from billing.reports.store import ReconciliationRun
from billing.users import Level, PlatformUser, UserStatus
from bot.runtime import jobs as report_jobs
from bot.runtime.jobs import ReportJobs
from handlers.facts import PlatformFacts
from handlers.slack_posting import SlackPosting
from platforms.types import Platform, Product
from tests.conftest import SEED_AT


class CountedPlatform:
    """Account ``n`` has ``n + 1`` users (and ``extra`` more), one of them inactive."""

    def __init__(self, account_id: int, extra: int = 0) -> None:
        self.product = Product.AXIOM
        self.label = Product.AXIOM.label
        self.users = [
            PlatformUser(
                f"{account_id}-{n}",
                f"u{n}@example.com",
                f"U {n}",
                100 + n,
                Level.AGENT,
                UserStatus.INACTIVE if n == 0 else UserStatus.ACTIVE,
            )
            for n in range(account_id + 1 + extra)
        ]

    async def list_users(self) -> list[PlatformUser]:
        return self.users

    async def aclose(self) -> None:
        pass


def jobs_over(
    session_factory: sessionmaker[Session], platforms_for: Any, concurrency: int = 2
) -> ReportJobs:
    def platform_for(account_id: int, product: Product) -> Platform | None:
        found = platforms_for([account_id], [product])[account_id][product]
        if isinstance(found, Exception):
            raise found
        return found  # type: ignore[no-any-return]

    return ReportJobs(
        reports=Reports(session_factory),
        claims=JobClaims(session_factory),
        facts=PlatformFacts(
            platform_for, deadline_s=5, recent_ttl_s=0, platforms_for=platforms_for
        ),
        clock=lambda: SEED_AT,
        posting=SlackPosting(None),
        source="test",
        concurrency=concurrency,
    )


def each_account(
    platform: Callable[[int], CountedPlatform],
) -> Callable[[list[int], list[Product]], dict[int, dict[Product, CountedPlatform]]]:
    """``platforms_for`` with ``platform(account_id)`` for every product of every account."""
    return lambda ids, products: {a: {p: platform(a) for p in products} for a in ids}


def runs_stored(session_factory: sessionmaker[Session]) -> int:
    with session_factory() as session:
        return session.scalar(select(func.count()).select_from(ReconciliationRun)) or 0


async def test_every_account_is_stored_once_in_batches_with_its_users_counted(
    session_factory: sessionmaker[Session], seed: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(report_jobs, "RECORD_BATCH", 2)
    ids = [seed(f"acct{n}", team_id=f"T{n}").account_id for n in range(5)]
    jobs = jobs_over(session_factory, each_account(CountedPlatform))
    batches: list[list[AccountReconciliation]] = []
    progress: list[int] = []
    await jobs.reconcile(None, on_batch=batches.append, on_progress=lambda d, t: progress.append(d))
    assert sorted(len(batch) for batch in batches) == [1, 2, 2]
    runs = [run for batch in batches for run in batch]
    assert sorted(run.account.id for run in runs) == ids
    for run in runs:
        [product] = run.products
        assert product.users is not None
        assert (product.users.total, product.users.inactive) == (run.account.id + 1, 1)
        assert [u.email for u in product.idle_users] == ["u0@example.com"]
        assert run.changes == {Product.AXIOM: None}  # the first run: nothing to compare with
    assert progress == [1, 2, 3, 4, 5]
    assert runs_stored(session_factory) == 5
    # Without on_batch the runs come back in the accounts' order (by name), each with its
    # change since the run above: one user more, the same seats.
    jobs = jobs_over(session_factory, each_account(lambda a: CountedPlatform(a, extra=1)))
    kept = await jobs.reconcile(None)
    assert [run.account.name for run in kept] == [f"acct{n}" for n in range(5)]
    assert all(run.changes == {Product.AXIOM: ProductChange(seats=0, users=1)} for run in kept)
    assert runs_stored(session_factory) == 10


async def test_a_failure_while_reading_is_raised(
    session_factory: sessionmaker[Session], seed: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(report_jobs, "RECORD_BATCH", 2)
    ids = [seed(f"acct{n}", team_id=f"T{n}").account_id for n in range(5)]

    def platforms_for(account_ids: list[int], products: list[Product]) -> dict[int, Any]:
        if ids[2] in account_ids:
            raise RuntimeError("the database went away")
        return each_account(CountedPlatform)(account_ids, products)

    jobs = jobs_over(session_factory, platforms_for, concurrency=1)
    with pytest.raises(RuntimeError, match="the database went away"):
        await jobs.reconcile(None, on_batch=lambda runs: None)
    # The batch read before the failure was stored; nothing after it was.
    assert runs_stored(session_factory) == 2


async def test_the_platforms_are_found_one_chunk_of_accounts_per_database_read(
    session_factory: sessionmaker[Session], seed: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(report_jobs, "CLAIM_CHUNK", 16)
    ids = [seed(f"acct{n:02d}", team_id=f"T{n}").account_id for n in range(40)]
    reads: list[list[int]] = []
    counted = each_account(CountedPlatform)

    def platforms_for(account_ids: list[int], products: list[Product]) -> dict[int, Any]:
        reads.append(list(account_ids))
        return counted(account_ids, products)

    runs = await jobs_over(session_factory, platforms_for, concurrency=8).reconcile(None)
    # 40 accounts in chunks of 16: three reads, each account in exactly one (not 40 reads).
    assert [len(read) for read in reads] == [16, 16, 8]
    assert sorted(a for read in reads for a in read) == sorted(ids)
    assert [run.account.id for run in runs] == ids
    for run in runs:
        [product] = run.products
        assert product.users is not None
        assert product.users.total == run.account.id + 1
