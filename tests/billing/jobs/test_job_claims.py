"""Claims on job_runs: one winner however many try, retries of failures, takeover of a crashed
run (one that stopped renewing its claim), --force, skipped runs, lateness, and the parts a run
posted recorded whoever holds it (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from billing.jobs.rules import JobStatus, Posted, may_take_over
from billing.jobs.store import JobClaims

DUE = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)


def test_only_the_first_claim_wins_and_a_done_run_stays_done(
    session_factory: sessionmaker[Session],
) -> None:
    claims = JobClaims(session_factory)
    first = claims.claim("digest", "acme/2026-11-29", scheduled_for=DUE, at=DUE)
    assert first is not None
    assert first.attempt == 1
    assert not first.late
    assert claims.claim("digest", "acme/2026-11-29", scheduled_for=DUE, at=DUE) is None
    assert claims.record_posted(first, "parts", "1.000001", index=0, channel_id="C1") == Posted(
        "1.000001", held=True
    )
    assert claims.succeed(first, at=DUE + timedelta(seconds=5))
    assert claims.claim("digest", "acme/2026-11-29", scheduled_for=DUE, at=DUE) is None
    stored = claims.find("digest", "acme/2026-11-29")
    assert stored is not None
    assert stored.status is JobStatus.SUCCEEDED
    assert (stored.channel_id, stored.message_ts) == ("C1", "1.000001")
    assert stored.detail == {"parts": ["1.000001"]}
    # Another key, or another job, is another run.
    assert claims.claim("digest", "acme/2026-11-30", scheduled_for=DUE, at=DUE) is not None
    assert claims.claim("reconcile", "acme/2026-11-29", scheduled_for=DUE, at=DUE) is not None


def test_many_threads_claiming_at_once_give_one_winner(
    session_factory: sessionmaker[Session],
) -> None:
    claims = JobClaims(session_factory)
    start = threading.Barrier(8)
    won: list[int] = []
    lock = threading.Lock()

    def contender() -> None:
        start.wait()
        claim = claims.claim("digest", "initech/2026-11-29", scheduled_for=DUE, at=DUE)
        if claim is not None:
            with lock:
                won.append(claim.id)

    threads = [threading.Thread(target=contender) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(won) == 1


def test_a_failed_run_is_retried_until_its_attempts_run_out(
    session_factory: sessionmaker[Session],
) -> None:
    claims = JobClaims(session_factory, max_attempts=2)
    first = claims.claim("digest", "acme/d", scheduled_for=DUE, at=DUE)
    assert first is not None
    assert claims.fail(first, at=DUE, error="Slack kept answering 429")
    second = claims.claim("digest", "acme/d", scheduled_for=DUE, at=DUE + timedelta(minutes=1))
    assert second is not None
    assert second.attempt == 2
    assert second.previous_status is JobStatus.FAILED
    # The first attempt's claim is no longer the one that may finish the run.
    assert not claims.succeed(first, at=DUE)
    assert claims.fail(second, at=DUE, error="again")
    assert claims.claim("digest", "acme/d", scheduled_for=DUE, at=DUE + timedelta(hours=1)) is None
    stored = claims.find("digest", "acme/d")
    assert stored is not None
    assert stored.status is JobStatus.FAILED
    assert stored.attempts == 2
    assert stored.detail["error"] == "again"
    # The operator may insist.
    assert claims.claim("digest", "acme/d", scheduled_for=DUE, at=DUE, force=True) is not None


def test_a_run_left_running_by_a_crash_is_taken_over_with_what_it_had_posted(
    session_factory: sessionmaker[Session],
) -> None:
    claims = JobClaims(session_factory, stale_after=timedelta(minutes=15))
    crashed = claims.claim("digest", "acme/d", scheduled_for=DUE, at=DUE)
    assert crashed is not None
    claims.record_posted(crashed, "parts", "9.000001", index=0, channel_id="C1")
    soon = DUE + timedelta(minutes=10)
    assert claims.claim("digest", "acme/d", scheduled_for=DUE, at=soon) is None
    later = DUE + timedelta(minutes=16)
    taken = claims.claim("digest", "acme/d", scheduled_for=DUE, at=later)
    assert taken is not None
    assert taken.attempt == 2
    assert taken.message_ts == "9.000001"  # update that message, do not post another
    assert not claims.succeed(crashed, at=later)  # the crashed claim is void


def test_force_reclaims_a_finished_run_without_making_it_late(
    session_factory: sessionmaker[Session],
) -> None:
    claims = JobClaims(session_factory)
    first = claims.claim("digest", "acme/d", scheduled_for=DUE, at=DUE)
    assert first is not None
    claims.succeed(first, at=DUE)
    redo = claims.claim(
        "digest", "acme/d", scheduled_for=DUE, at=DUE + timedelta(hours=5), force=True
    )
    assert redo is not None
    assert redo.previous_status is JobStatus.SUCCEEDED
    assert not redo.late


def test_lateness_is_measured_from_when_the_run_was_due(
    session_factory: sessionmaker[Session],
) -> None:
    claims = JobClaims(session_factory, late_after=timedelta(minutes=30))
    on_time = claims.claim("digest", "a/d", scheduled_for=DUE, at=DUE + timedelta(minutes=29))
    late = claims.claim("digest", "b/d", scheduled_for=DUE, at=DUE + timedelta(hours=3))
    assert on_time is not None
    assert not on_time.late
    assert late is not None
    assert late.late


def test_a_skipped_run_is_recorded_once(session_factory: sessionmaker[Session]) -> None:
    claims = JobClaims(session_factory)
    args = {"scheduled_for": DUE, "at": DUE + timedelta(days=2), "reason": "too late"}
    assert claims.skip("digest", "acme/d", **args)
    assert not claims.skip("digest", "acme/d", **args)
    assert claims.claim("digest", "acme/d", scheduled_for=DUE, at=DUE) is None
    stored = claims.find("digest", "acme/d")
    assert stored is not None
    assert stored.status is JobStatus.SKIPPED


def test_a_renewed_claim_is_taken_over_only_once_its_holder_stops_renewing(
    session_factory: sessionmaker[Session],
) -> None:
    claims = JobClaims(session_factory, stale_after=timedelta(minutes=15))
    holder = claims.claim("digest", "acme/d", scheduled_for=DUE, at=DUE)
    assert holder is not None
    renewed = claims.renew(holder, at=DUE + timedelta(minutes=10))
    assert renewed is not None
    assert renewed.renewed_at == DUE + timedelta(minutes=10)
    # Started 16 minutes ago, but renewed 6 minutes ago: alive.
    soon, later = DUE + timedelta(minutes=16), DUE + timedelta(minutes=26)
    assert claims.claim("digest", "acme/d", scheduled_for=DUE, at=soon) is None
    taken = claims.claim("digest", "acme/d", scheduled_for=DUE, at=later)
    assert taken is not None
    assert taken.attempt == 2
    assert claims.renew(holder, at=DUE + timedelta(minutes=27)) is None  # lost: stop
    run = claims.find("digest", "acme/d")
    assert run is not None
    limits = {"stale_after": claims.stale_after, "max_attempts": claims.max_attempts}
    assert (
        may_take_over(run, DUE + timedelta(minutes=40), **limits) is False
    )  # renewed by the taker
    assert may_take_over(run, DUE + timedelta(minutes=42), **limits) is True


def test_a_part_posted_after_a_takeover_is_recorded_and_the_first_record_wins(
    session_factory: sessionmaker[Session],
) -> None:
    claims = JobClaims(session_factory, stale_after=timedelta(minutes=15))
    old = claims.claim("digest", "acme/d", scheduled_for=DUE, at=DUE)
    assert old is not None
    first = claims.record_posted(old, "parts", "1.1", index=0, channel_id="C1")
    assert first == Posted("1.1", held=True)
    new = claims.claim("digest", "acme/d", scheduled_for=DUE, at=DUE + timedelta(minutes=16))
    assert new is not None
    assert new.detail == {"parts": ["1.1"]}
    # Slack answers the old owner's reply now: recorded all the same, and the old owner told.
    assert claims.record_posted(old, "thread", "1.2", index=0) == Posted("1.2", False)
    renewed = claims.renew(new, at=DUE + timedelta(minutes=17))
    assert renewed is not None
    assert renewed.detail == {"parts": ["1.1"], "thread": ["1.2"]}  # resume after it
    # A second record of the same part does not replace the first.
    assert claims.record_posted(new, "thread", "1.3", index=0) == Posted("1.2", True)
    assert claims.record_posted(new, "chart_file_id", "F1") == Posted("F1", True)
    assert claims.record_posted(old, "chart_file_id", "F2") == Posted("F1", False)
    assert claims.succeed(new, at=DUE + timedelta(minutes=18))
    stored = claims.find("digest", "acme/d")
    assert stored is not None
    assert (stored.channel_id, stored.message_ts) == ("C1", "1.1")
    assert stored.detail == {"chart_file_id": "F1", "parts": ["1.1"], "thread": ["1.2"]}


def test_parts_recorded_at_once_by_many_threads_are_all_kept(
    session_factory: sessionmaker[Session],
) -> None:
    claims = JobClaims(session_factory)
    claim = claims.claim("digest", "acme/d", scheduled_for=DUE, at=DUE)
    assert claim is not None
    start = threading.Barrier(8)

    def record(index: int) -> None:
        start.wait()
        claims.record_posted(claim, "thread", f"2.{index}", index=index)

    threads = [threading.Thread(target=record, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stored = claims.find("digest", "acme/d")
    assert stored is not None
    assert stored.detail["thread"] == [f"2.{n}" for n in range(8)]
