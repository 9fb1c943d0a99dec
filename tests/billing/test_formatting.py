"""One formatter, one convention: the account's zone and currency, inclusive last day, shares in
words; JSON keeps exact values."""

from __future__ import annotations

from datetime import UTC, date, datetime
from fractions import Fraction
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing.formatting import (
    first_day,
    format_day,
    format_instant,
    format_money,
    format_percent,
    format_period,
    format_share,
    json_instant,
    last_day,
    period_days,
)
from billing.money import Money
from billing.periods import Interval, PeriodError, local_midnight, period_at, period_n
from billing.proration import ProrationRule, remaining_fraction

TOKYO = ZoneInfo("Asia/Tokyo")
LONDON = ZoneInfo("Europe/London")


def test_a_tokyo_period_starting_on_the_first_reads_as_the_first() -> None:
    # Stored in UTC the period runs 2026-10-31T15:00Z → 2026-11-30T15:00Z.
    period = period_n(date(2026, 11, 1), Interval.MONTHLY, 0, TOKYO)
    assert period.start == datetime(2026, 10, 31, 15, 0, tzinfo=UTC)
    assert format_period(period, TOKYO) == "1 Nov 2026 – 30 Nov 2026"
    # The same stored period read in UTC starts the day before: the zone decides the days.
    assert format_period(period, ZoneInfo("UTC")) == "31 Oct 2026 – 30 Nov 2026"


def test_a_period_across_new_year_names_both_years() -> None:
    period = period_n(date(2026, 12, 15), Interval.MONTHLY, 0, LONDON)
    assert format_period(period, LONDON) == "15 Dec 2026 – 14 Jan 2027"


def test_the_last_day_is_inclusive() -> None:
    period = period_n(date(2026, 1, 31), Interval.MONTHLY, 1, LONDON)  # Jan 31 → Feb 28
    assert (first_day(period, LONDON), last_day(period, LONDON)) == (
        date(2026, 2, 28),
        date(2026, 3, 30),
    )
    assert period_days(period, LONDON) == 31


def test_days_and_instants() -> None:
    assert format_day(date(2026, 11, 1)) == "1 Nov 2026"
    at = datetime(2026, 7, 16, 8, 30, tzinfo=UTC)
    assert format_instant(at, LONDON) == "16 Jul 2026, 09:30 (Europe/London)"  # summer time
    assert format_instant(at, TOKYO, show_zone=False) == "16 Jul 2026, 17:30"


def test_percentages_are_exact_and_rounded_half_up() -> None:
    assert format_percent(Fraction(16, 31)) == "51.61%"
    assert format_percent(Fraction(1, 8)) == "12.50%"
    assert format_percent(Fraction(1, 800)) == "0.13%"  # 0.125 rounds up, not to even
    assert format_percent(Fraction(1)) == "100.00%"


def test_shares_by_rule() -> None:
    period = period_n(date(2026, 1, 1), Interval.MONTHLY, 0, LONDON)
    at = local_midnight(date(2026, 1, 16), LONDON)
    daily = remaining_fraction(period, at, ProrationRule.DAILY, LONDON)
    assert format_share(daily, ProrationRule.DAILY, period, at, LONDON) == "16 of 31 days"
    seconds = remaining_fraction(period, at, ProrationRule.SECONDS, LONDON)
    assert format_share(seconds, ProrationRule.SECONDS, period, at, LONDON) == "16 of 31 days"
    # Per second, the time left to the minute: never a percentage.
    for when, said in [
        (datetime(2026, 1, 16, 9, 30, tzinfo=UTC), "15 days 14 h 30 min of 31 days"),
        (datetime(2026, 1, 31, 22, 0, tzinfo=UTC), "2 h of 31 days"),
        (datetime(2026, 1, 31, 23, 59, 30, tzinfo=UTC), "under a minute of 31 days"),
    ]:
        share = remaining_fraction(period, when, ProrationRule.SECONDS, LONDON)
        assert format_share(share, ProrationRule.SECONDS, period, when, LONDON) == said
    none = remaining_fraction(period, at, ProrationRule.NONE, LONDON)
    assert format_share(none, ProrationRule.NONE, period, at, LONDON) == "nothing (no proration)"


@given(
    anchor=st.dates(min_value=date(2000, 1, 1), max_value=date(2090, 12, 31)),
    offset_hours=st.integers(min_value=0, max_value=24 * 400),
    tz_name=st.sampled_from(["UTC", "Asia/Tokyo", "America/New_York", "Pacific/Chatham"]),
    interval=st.sampled_from(list(Interval)),
)
def test_daily_share_in_days_equals_the_exact_fraction(
    anchor: date, offset_hours: int, tz_name: str, interval: Interval
) -> None:
    tz = ZoneInfo(tz_name)
    at = datetime.fromtimestamp(
        local_midnight(anchor, tz).timestamp() + offset_hours * 3600, tz=UTC
    )
    period = period_at(anchor, interval, at, tz)
    fraction = remaining_fraction(period, at, ProrationRule.DAILY, tz)
    text = format_share(fraction, ProrationRule.DAILY, period, at, tz)
    remaining, _, rest = text.partition(" of ")
    whole = int(rest.split()[0])
    assert Fraction(int(remaining), whole) == fraction


def test_an_instant_must_be_aware() -> None:
    with pytest.raises(PeriodError, match="aware"):
        format_instant(datetime(2026, 1, 1), LONDON)  # noqa: DTZ001 - the point of the test


def test_locale_aware_display() -> None:
    assert format_money(Money(123456, "USD")) == "$1,234.56"
    assert format_money(Money(1235, "JPY")) == "¥1,235"
    assert format_money(Money(-15484, "USD")) == "-$154.84"
    assert format_money(Money(123456, "EUR"), locale="de_DE") == "1.234,56\xa0€"


def test_money_in_each_currency_has_its_minor_units() -> None:
    assert format_money(Money(4550, "USD")) == "$45.50"
    assert format_money(Money(1000, "JPY")) == "¥1,000"  # no decimals
    # Three decimals; a currency shown by letters is set apart by a no-break space (CLDR's
    # currency spacing), which babel itself leaves out ("KWD29.500").
    assert format_money(Money(29500, "KWD")) == "KWD\u00a029.500"
    assert format_money(Money(-5, "KWD")) == "-KWD\u00a00.005"
    assert format_money(Money(123456, "EUR"), locale="de_DE") == "1.234,56\u00a0€"


def test_a_period_shows_its_first_and_last_day() -> None:
    # Stored as [1 Dec 00:00, 1 Jan 00:00) in Tokyo: the last day shown is 31 Dec.
    period = period_n(date(2026, 12, 1), Interval.MONTHLY, 0, TOKYO)
    assert period.end == datetime(2026, 12, 31, 15, 0, tzinfo=UTC)
    assert format_period(period, TOKYO) == "1 Dec 2026 – 31 Dec 2026"


def test_an_instant_in_the_accounts_zone_and_in_json() -> None:
    at = datetime(2026, 12, 7, 2, 41, tzinfo=UTC)
    assert format_instant(at, TOKYO) == "7 Dec 2026, 11:41 (Asia/Tokyo)"
    assert json_instant(at) == "2026-12-07T02:41:00Z"
    assert json_instant(at.astimezone(TOKYO)) == "2026-12-07T02:41:00Z"
    with pytest.raises(PeriodError, match="aware"):
        json_instant(datetime(2026, 1, 1))  # noqa: DTZ001 - the point of the test


def test_half_a_hundredth_of_a_percent_rounds_up() -> None:
    assert format_percent(Fraction(1, 800)) == "0.13%"  # float formatting gives 0.12%
    assert format_percent(Fraction(3, 800)) == "0.38%"
    assert format_percent(Fraction(1, 3)) == "33.33%"
