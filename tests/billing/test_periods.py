import itertools
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing.periods import (
    Interval,
    PeriodError,
    add_months,
    local_midnight,
    period_at,
    period_n,
    zone,
)

UTC_ZONE = zone("UTC")


def test_month_end_anchor_is_calendar_true() -> None:
    starts = [
        period_n(date(2026, 1, 31), Interval.MONTHLY, n, UTC_ZONE).start.date() for n in range(5)
    ]
    assert starts == [
        date(2026, 1, 31),
        date(2026, 2, 28),
        date(2026, 3, 31),
        date(2026, 4, 30),
        date(2026, 5, 31),
    ]


def test_leap_february() -> None:
    assert period_n(date(2028, 1, 31), Interval.MONTHLY, 1, UTC_ZONE).start.date() == date(
        2028, 2, 29
    )


def test_quarterly_annual_weekly() -> None:
    assert period_n(date(2026, 11, 30), Interval.QUARTERLY, 1, UTC_ZONE).start.date() == date(
        2027, 2, 28
    )
    annual = period_n(date(2028, 1, 1), Interval.ANNUAL, 0, UTC_ZONE)
    assert (annual.end - annual.start).days == 366
    weekly = period_n(date(2026, 1, 5), Interval.WEEKLY, 2, UTC_ZONE)
    assert weekly.start.date() == date(2026, 1, 19)
    assert weekly.end.date() == date(2026, 1, 26)


def test_period_at_finds_the_containing_period_with_exclusive_end() -> None:
    anchor = date(2026, 1, 31)
    p = period_at(anchor, Interval.MONTHLY, datetime(2026, 3, 30, 23, 59, tzinfo=UTC), UTC_ZONE)
    assert (p.start.date(), p.end.date()) == (date(2026, 2, 28), date(2026, 3, 31))
    at_end = period_at(anchor, Interval.MONTHLY, p.end, UTC_ZONE)
    assert at_end.start == p.end


def test_periods_are_midnight_in_the_account_zone() -> None:
    tokyo = zone("Asia/Tokyo")
    p = period_at(date(2026, 2, 1), Interval.MONTHLY, datetime(2026, 2, 10, tzinfo=UTC), tokyo)
    assert p.start == datetime(2026, 1, 31, 15, tzinfo=UTC)
    assert p.end == datetime(2026, 2, 28, 15, tzinfo=UTC)


def test_before_the_anchor_counts_backwards() -> None:
    p = period_at(date(2026, 3, 31), Interval.MONTHLY, datetime(2026, 3, 1, tzinfo=UTC), UTC_ZONE)
    assert (p.start.date(), p.end.date(), p.index) == (date(2026, 2, 28), date(2026, 3, 31), -1)


def test_naive_instants_and_bad_zones_are_refused() -> None:
    with pytest.raises(PeriodError):
        period_at(date(2026, 1, 1), Interval.MONTHLY, datetime(2026, 1, 2), UTC_ZONE)  # noqa: DTZ001
    with pytest.raises(PeriodError, match="unknown time zone"):
        zone("Nowhere/Land")


@given(
    anchor=st.builds(
        lambda year, month, day: date(year, month, 1).replace(
            day=min(day, (add_months(date(year, month, 1), 1) - timedelta(days=1)).day)
        ),
        st.integers(min_value=2000, max_value=2090),
        st.integers(min_value=1, max_value=12),
        st.integers(min_value=28, max_value=31),
    ),
    count=st.integers(min_value=1, max_value=40),
    interval=st.sampled_from([Interval.MONTHLY, Interval.QUARTERLY, Interval.ANNUAL]),
)
def test_month_end_anchors_stay_calendar_true(anchor: date, count: int, interval: Interval) -> None:
    # Anchors on the 29th, 30th or 31st: every boundary keeps the anchor's day, or the last day of
    # a shorter month; consecutive periods tile the calendar with no gaps.
    periods = [period_n(anchor, interval, n, UTC_ZONE) for n in range(count)]
    for previous, following in itertools.pairwise(periods):
        assert previous.end == following.start
    for p in periods:
        start = p.start.date()
        last_day = (add_months(start.replace(day=1), 1) - timedelta(days=1)).day
        assert start.day == min(anchor.day, last_day)


@given(
    anchor=st.dates(min_value=date(2000, 1, 1), max_value=date(2090, 1, 1)),
    offset=st.integers(min_value=0, max_value=10 * 366 * 86400),
    interval=st.sampled_from(list(Interval)),
    tz_name=st.sampled_from(["UTC", "Europe/London", "America/New_York", "Asia/Kolkata"]),
)
def test_period_at_contains_its_instant(
    anchor: date, offset: int, interval: Interval, tz_name: str
) -> None:
    tz = zone(tz_name)
    at = local_midnight(anchor, tz) + timedelta(seconds=offset)
    p = period_at(anchor, interval, at, tz)
    assert p.start <= at < p.end
    assert p == period_n(anchor, interval, p.index, tz)
