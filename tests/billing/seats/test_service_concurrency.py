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

from billing.access import Caller
from billing.books.service import SeatService
from billing.models import LedgerEntry, Subscription
from billing.seats.outcomes import ReadyToConfirm
from billing.seats.service import SeatChanges
from billing.users import UserListing
from bot.runtime.db import make_engine, make_session_factory

pytestmark = pytest.mark.slow

OWNER = Caller("T_ACME", "U_OWNER")
AT = datetime(2026, 1, 16, 10, 0, tzinfo=UTC)
DEADLINE_S = 60


def _confirm_worker(url: str, request_id: int, barrier: Barrier, results: Queue[Any]) -> None:
    engine = make_engine(url)
    try:
        changes = SeatChanges(make_session_factory(engine))
        barrier.wait(timeout=DEADLINE_S)
        outcome = changes.confirm(
            OWNER, request_id=request_id, revision=1, at=AT, users=UserListing.complete([])
        )
        lines = len(getattr(outcome, "ledger_lines", ()))
        results.put((request_id, type(outcome).__name__, lines))
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


def _draft(session_factory: sessionmaker[Session], acme: Any, new_seats: int) -> int:
    outcome = SeatChanges(session_factory).request_by_form(
        OWNER,
        account_id=acme.account_id,
        subscription_id=acme.subscription_id,
        new_seats=new_seats,
        at=AT,
    )
    assert isinstance(outcome, ReadyToConfirm)
    return outcome.request.id


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
    for round_number in range(3):
        acme = seed(f"race-{round_number}")
        request_id = _draft(session_factory, acme, 12)
        outcomes = _race(db_url, [request_id, request_id])
        kinds = Counter(kind for _, kind, _ in outcomes)
        assert kinds == Counter({"ChangeApplied": 1, "AlreadyApplied": 1})
        # The ledger holds the two lines once.
        assert _ledger_count(session_factory, request_id) == 2
        with session_factory() as session:
            subscription = session.get(Subscription, acme.subscription_id)
            assert subscription is not None
            assert (subscription.seats, subscription.version) == (12, 2)


def test_two_processes_changing_one_subscription_do_not_overwrite_each_other(
    db_url: str, seed: Any, session_factory: sessionmaker[Session]
) -> None:
    service = SeatService(session_factory)
    acme = seed("contended")
    first = _draft(session_factory, acme, 12)
    second = _draft(session_factory, acme, 15)
    outcomes = {request_id: kind for request_id, kind, _ in _race(db_url, [first, second])}
    winners = [request_id for request_id, kind in outcomes.items() if kind == "ChangeApplied"]
    assert len(winners) == 1
    (loser,) = set(outcomes) - set(winners)
    # SQLite serialises at BEGIN IMMEDIATE (the loser sees the new version: stale); on
    # PostgreSQL the loser may reach the version CAS and find it moved. Either way it is shown
    # the new quote and applies nothing.
    assert outcomes[loser] == "ReadyToConfirm"
    winner_seats = 12 if winners[0] == first else 15
    with session_factory() as session:
        subscription = session.get(Subscription, acme.subscription_id)
        assert subscription is not None
        assert (subscription.seats, subscription.version) == (winner_seats, 2)
    assert _ledger_count(session_factory, winners[0]) == 2
    assert _ledger_count(session_factory, loser) == 0
    requoted = service.get_request(loser)
    assert requoted.old_seats == winner_seats
    assert (requoted.quoted_version, requoted.revision) == (2, 2)
