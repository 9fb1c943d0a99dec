"""Two processes confirming at the same moment, on one SQLite file and on PostgreSQL.

Each worker builds its own engine (nothing shared but the database), waits at a barrier so both
confirm at once, and reports the outcome. No sleeps: the barrier and queue have deadlines.
"""

from __future__ import annotations

import multiprocessing
import traceback
from collections import Counter
from datetime import UTC, datetime
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from billing.models import LedgerEntry, Subscription
from billing.service import ConfirmKind, SeatService
from bot.db import make_engine, make_session_factory

pytestmark = pytest.mark.slow

T = "T_ACME"
OWNER = "U_OWNER"
AT = datetime(2026, 1, 16, 10, 0, tzinfo=UTC)
DEADLINE_S = 60


def _confirm_worker(url: str, request_id: int, barrier: Barrier, results: Queue[Any]) -> None:
    engine = make_engine(url)
    try:
        service = SeatService(make_session_factory(engine))
        barrier.wait(timeout=DEADLINE_S)
        outcome = service.confirm(
            request_id, team_id=T, user_id=OWNER, at=AT, platform_check_passed=True
        )
        results.put((request_id, outcome.kind.value, len(outcome.ledger_lines)))
    except BaseException:
        results.put((request_id, "error", traceback.format_exc()))
    finally:
        engine.dispose()


def _race(url: str, request_ids: list[int]) -> list[tuple[int, str, Any]]:
    """Confirm every id in its own process, all released at the same instant."""
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(len(request_ids))
    results: Queue[Any] = context.Queue()
    processes = [
        context.Process(target=_confirm_worker, args=(url, request_id, barrier, results))
        for request_id in request_ids
    ]
    for process in processes:
        process.start()
    try:
        outcomes = [results.get(timeout=DEADLINE_S) for _ in processes]
    finally:
        for process in processes:
            process.join(timeout=DEADLINE_S)
    assert all(process.exitcode == 0 for process in processes)
    errors = [detail for _, kind, detail in outcomes if kind == "error"]
    assert not errors, errors[0]
    return outcomes


def _ledger_count(session_factory: sessionmaker[Session], request_id: int) -> int:
    with session_factory() as session:
        count = session.scalar(
            select(func.count())
            .select_from(LedgerEntry)
            .where(LedgerEntry.request_id == request_id)
        )
    return int(count or 0)


def test_two_processes_confirming_one_request_write_its_ledger_once(
    db_url: str, seed: Any, session_factory: sessionmaker[Session]
) -> None:
    service = SeatService(session_factory)
    for round_number in range(3):
        acme = seed(f"race-{round_number}")
        request = service.create_request(
            acme.subscription_id, 12, team_id=T, user_id=OWNER, reason="", at=AT
        )
        outcomes = _race(db_url, [request.id, request.id])
        kinds = Counter(kind for _, kind, _ in outcomes)
        assert kinds == Counter({"applied": 1, "already_applied": 1})
        # Both report the same two lines, and the ledger holds them once.
        assert [lines for _, _, lines in outcomes] == [2, 2]
        assert _ledger_count(session_factory, request.id) == 2
        with session_factory() as session:
            subscription = session.get(Subscription, acme.subscription_id)
            assert subscription is not None
            assert (subscription.seats, subscription.version) == (12, 2)


def test_two_processes_changing_one_subscription_do_not_overwrite_each_other(
    db_url: str, seed: Any, session_factory: sessionmaker[Session]
) -> None:
    service = SeatService(session_factory)
    acme = seed("contended")
    first = service.create_request(
        acme.subscription_id, 12, team_id=T, user_id=OWNER, reason="", at=AT
    )
    second = service.create_request(
        acme.subscription_id, 15, team_id=T, user_id=OWNER, reason="", at=AT
    )
    outcomes = {request_id: kind for request_id, kind, _ in _race(db_url, [first.id, second.id])}
    winners = [request_id for request_id, kind in outcomes.items() if kind == "applied"]
    assert len(winners) == 1
    (loser,) = set(outcomes) - set(winners)
    # SQLite serialises at BEGIN IMMEDIATE (the loser sees the new version: stale); on
    # PostgreSQL the loser may reach the version CAS and find it moved (conflict).
    assert outcomes[loser] in {ConfirmKind.STALE.value, ConfirmKind.CONFLICT.value}
    winner_seats = 12 if winners[0] == first.id else 15
    with session_factory() as session:
        subscription = session.get(Subscription, acme.subscription_id)
        assert subscription is not None
        assert (subscription.seats, subscription.version) == (winner_seats, 2)
    assert _ledger_count(session_factory, winners[0]) == 2
    assert _ledger_count(session_factory, loser) == 0
    requoted = service.get_request(loser)
    assert requoted.old_seats == winner_seats
    assert requoted.quoted_version == 2
