"""The rules of a claimed run: when it is due, skipped or retried, when it may be taken over,
and what a takeover resumes from."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from billing.jobs.rules import (
    Claim,
    JobRunView,
    JobStatus,
    Start,
    due_days,
    failed,
    main_message,
    may_take_over,
    posted_part,
    renew_every,
    start_step,
    with_posted,
)

AT = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
STALE = timedelta(minutes=15)


def stored(status: JobStatus, attempts: int, alive_at: datetime) -> JobRunView:
    """A run stored as ``status`` after ``attempts`` claims, last renewed at ``alive_at``."""
    return JobRunView(
        1, "digest", "acme/d", 1, AT, status, attempts, False, alive_at, None, None, None, {},
        renewed_at=alive_at,
    )  # fmt: skip


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
            stored(status, attempts, AT - alive_for),
            AT,
            stale_after=STALE,
            max_attempts=5,
            force=force,
        )
        is expected
    )


@pytest.mark.parametrize(
    ("run", "due_for", "expected"),
    [
        (None, timedelta(minutes=-1), Start.WAIT),  # not due yet
        (None, timedelta(0), Start.CLAIM),
        (None, timedelta(hours=23), Start.CLAIM),  # missed while nothing ran: posted late
        (None, timedelta(days=1, seconds=1), Start.SKIP),  # more than a day late
        # Retried while it has attempts left, however late: one copy of the retry rule.
        (stored(JobStatus.FAILED, 4, AT), timedelta(days=2), Start.CLAIM),
        (stored(JobStatus.FAILED, 5, AT), timedelta(hours=1), Start.WAIT),
        (stored(JobStatus.RUNNING, 1, AT - timedelta(minutes=16)), timedelta(days=2), Start.CLAIM),
        (stored(JobStatus.RUNNING, 1, AT - timedelta(minutes=5)), timedelta(hours=1), Start.WAIT),
        (stored(JobStatus.SUCCEEDED, 1, AT), timedelta(hours=1), Start.WAIT),
        (stored(JobStatus.SKIPPED, 0, AT), timedelta(days=2), Start.WAIT),
    ],
)
def test_what_a_tick_does_with_a_daily_run(
    run: JobRunView | None, due_for: timedelta, expected: Start
) -> None:
    assert start_step(run, AT - due_for, AT, stale_after=STALE, max_attempts=5) is expected


def test_a_daily_run_is_due_at_its_local_time_on_each_of_the_last_three_days() -> None:
    london = ZoneInfo("Europe/London")
    # 08:59 in London: today's 09:00 run is not due yet, the two days before are.
    due = due_days(time(9, 0), london, datetime(2026, 11, 29, 8, 59, tzinfo=UTC))
    assert due == [
        (date(2026, 11, 27), datetime(2026, 11, 27, 9, 0, tzinfo=UTC)),
        (date(2026, 11, 28), datetime(2026, 11, 28, 9, 0, tzinfo=UTC)),
    ]
    # Kuwait is three hours ahead: its 08:30 run of 29 November was due at 05:30 UTC.
    kuwait = due_days(time(8, 30), ZoneInfo("Asia/Kuwait"), AT)
    assert kuwait[-1] == (date(2026, 11, 29), datetime(2026, 11, 29, 5, 30, tzinfo=UTC))
    assert len(kuwait) == 3


def test_a_newly_loaded_account_is_owed_no_run_due_before_it_was_loaded() -> None:
    london = ZoneInfo("Europe/London")
    at = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
    # Loaded at 10:00 today: today's 09:00 run and the two before it came due before that.
    assert due_days(time(9, 0), london, at, since=datetime(2026, 11, 29, 10, 0, tzinfo=UTC)) == []
    # Loaded at 09:00 sharp: today's run is owed, yesterday's is not.
    assert due_days(time(9, 0), london, at, since=datetime(2026, 11, 29, 9, 0, tzinfo=UTC)) == [
        (date(2026, 11, 29), datetime(2026, 11, 29, 9, 0, tzinfo=UTC))
    ]
    # Loaded long ago: the same as not saying.
    long_ago = datetime(2026, 1, 1, tzinfo=UTC)
    assert due_days(time(9, 0), london, at, since=long_ago) == due_days(time(9, 0), london, at)


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


def test_a_failure_is_one_sentence_then_whether_it_is_tried_again() -> None:
    def claim(attempt: int) -> Claim:
        return Claim(1, "digest", "acme/2026-11-29", 1, AT, attempt, False, "C1", None, {}, None)

    reason = "Slack refused chat.postMessage in C1: not_authed."
    first = failed("acme", claim(1), "digest", reason, max_attempts=5)
    assert first.detail == (
        "digest not posted: Slack refused chat.postMessage in C1: not_authed; "
        "it will be tried again (4 tries left)"
    )
    last = failed("acme", claim(5), "digest", reason, max_attempts=5)
    assert last.detail.endswith("not_authed; giving up")
