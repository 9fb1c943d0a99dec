"""Claiming many runs of a shared job at once (:class:`billing.jobs.shares.SharedClaims`):
each run is won once; one that exists is claimed again only as :class:`JobClaims` would
(a failure retried, a stale holder taken over, never a succeeded run); done in one statement
only while the claim is held. On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session, sessionmaker

from billing.jobs import JobClaims, SharedClaims, daily_share
from billing.jobs.rules import JobStatus

AT = datetime(2026, 1, 10, 9, 0, tzinfo=UTC)
JOB = "shared reconciliation"


def test_each_run_is_won_once_and_taken_again_only_as_a_single_claim_would_be(
    session_factory: sessionmaker[Session],
) -> None:
    claims = JobClaims(session_factory, stale_after=timedelta(minutes=15), max_attempts=3)
    keys = {f"day/acct{n}": None for n in range(5)}
    first = SharedClaims(claims).claim(JOB, keys, scheduled_for=AT, at=AT)
    assert sorted(first) == sorted(keys)
    assert {claim.attempt for claim in first.values()} == {1}
    # Another replica, a moment later: nothing is free.
    assert SharedClaims(claims).claim(JOB, keys, scheduled_for=AT, at=AT) == {}
    # acct0 done, acct1 failed, the rest still held (acct2…4).
    assert SharedClaims(claims).succeed([first["day/acct0"]], at=AT) == 1
    assert claims.fail(first["day/acct1"], at=AT, error="platform down")
    later = AT + timedelta(minutes=1)
    retried = SharedClaims(claims).claim(JOB, keys, scheduled_for=AT, at=later)
    assert sorted(retried) == ["day/acct1"]
    assert retried["day/acct1"].attempt == 2
    # The holder of acct2…4 stopped renewing: after 15 minutes they are taken over, once.
    stale = AT + timedelta(minutes=16)
    taken = SharedClaims(claims).claim(JOB, keys, scheduled_for=AT, at=stale)
    assert sorted(taken) == ["day/acct2", "day/acct3", "day/acct4"]
    # The old holder's claims are lost: marking them done changes nothing; the new ones do.
    old = [first[key] for key in taken]
    assert SharedClaims(claims).succeed(old, at=stale) == 0
    assert SharedClaims(claims).succeed([*taken.values(), retried["day/acct1"]], at=stale) == 4
    runs = claims.find_many(JOB, list(keys))
    assert {run.status for run in runs.values()} == {JobStatus.SUCCEEDED}
    assert SharedClaims(claims).claim(JOB, keys, scheduled_for=AT, at=stale) == {}


def test_the_daily_share_is_the_utc_date_once_its_time_has_passed() -> None:
    at = time(2, 0)
    assert daily_share(datetime(2026, 1, 10, 1, 59, 59, tzinfo=UTC), at) is None
    assert daily_share(datetime(2026, 1, 10, 2, 0, tzinfo=UTC), at) == "2026-01-10"
    # An instant in another zone is read in UTC: 03:30 in Paris is 02:30 UTC.
    paris = datetime(2026, 1, 10, 3, 30, tzinfo=ZoneInfo("Europe/Paris"))
    assert daily_share(paris, at) == "2026-01-10"
    assert daily_share(datetime(2026, 1, 10, 23, 59, tzinfo=UTC), time(0, 0)) == "2026-01-10"
