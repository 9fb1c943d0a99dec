"""The rules of a claimed run: when it may be taken over, and what a takeover resumes from."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from billing.jobs.rules import (
    JobStatus,
    main_message,
    may_take_over,
    posted_part,
    renew_every,
    with_posted,
)

AT = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
STALE = timedelta(minutes=15)


@pytest.mark.parametrize(
    ("status", "attempts", "alive_for", "force", "expected"),
    [
        (JobStatus.RUNNING, 1, timedelta(minutes=15), False, False),  # renewed just in time
        (JobStatus.RUNNING, 1, timedelta(minutes=15, seconds=1), False, True),  # its holder died
        (JobStatus.RUNNING, 1, timedelta(0), True, False),  # force never takes a live claim
        (JobStatus.FAILED, 4, timedelta(0), False, True),
        (JobStatus.FAILED, 5, timedelta(0), False, False),  # no attempts left
        (JobStatus.FAILED, 5, timedelta(0), True, True),
        (JobStatus.SUCCEEDED, 1, timedelta(days=1), False, False),
        (JobStatus.SUCCEEDED, 1, timedelta(0), True, True),
        (JobStatus.SKIPPED, 0, timedelta(days=1), True, False),
    ],
)
def test_who_may_take_a_run_over(
    status: JobStatus, attempts: int, alive_for: timedelta, force: bool, expected: bool
) -> None:
    assert (
        may_take_over(
            status,
            attempts,
            AT - alive_for,
            AT,
            stale_after=STALE,
            max_attempts=5,
            force=force,
        )
        is expected
    )


def test_a_holder_renews_several_times_within_stale_after() -> None:
    assert renew_every(STALE) == timedelta(minutes=5)


def test_a_takeover_resumes_from_what_is_recorded() -> None:
    detail = {"parts": ["1.1", "1.2"], "thread": ["2.1"], "chart_file_id": "F1"}
    assert [posted_part(detail, "parts", n) for n in range(3)] == ["1.1", "1.2", None]
    assert posted_part(detail, "thread", 0) == "2.1"
    assert posted_part(detail, "chart_file_id") == "F1"
    assert posted_part({}, "chart_file_id") is None
    # A run stored before parts were listed kept its first message as message_ts only.
    assert posted_part({}, "parts", 0, message_ts="0.9") == "0.9"
    assert posted_part({}, "thread", 0, message_ts="0.9") is None
    assert main_message(detail) == "1.1"
    assert main_message({}) is None


def test_the_first_record_of_a_part_wins() -> None:
    detail, kept = with_posted({}, "thread", "2.2", 1)
    assert (detail, kept) == ({"thread": [None, "2.2"]}, "2.2")
    detail, kept = with_posted(detail, "thread", "2.1", 0)
    assert (detail, kept) == ({"thread": ["2.1", "2.2"]}, "2.1")
    again, kept = with_posted(detail, "thread", "2.9", 0)
    assert (again, kept) == (detail, "2.1")  # a duplicate: not what a takeover resumes from
    detail, kept = with_posted(detail, "chart_file_id", "F1")
    assert kept == "F1"
    assert with_posted(detail, "chart_file_id", "F2") == (detail, "F1")
