from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing.money import Money
from billing.periods import Interval, Period, local_midnight, period_n, zone
from billing.proration import (
    DecreasePolicy,
    LineKind,
    ProrationError,
    ProrationRule,
    prorate_quantity_change,
)

UTC_ZONE = zone("UTC")


def _period(start: date, end: date) -> Period:
    return Period(local_midnight(start, UTC_ZONE), local_midnight(end, UTC_ZONE))


def _amounts(result: object) -> list[str]:
    return [line.amount.to_decimal_string() for line in result.lines]  # type: ignore[attr-defined]


def test_daily_usd_mid_month() -> None:
    result = prorate_quantity_change(
        old_quantity=10,
        new_quantity=12,
        unit_price=Money.parse("30.00", "USD"),
        period=_period(date(2026, 1, 1), date(2026, 2, 1)),
        at=local_midnight(date(2026, 1, 16), UTC_ZONE),
        rule=ProrationRule.DAILY,
        tz=UTC_ZONE,
    )
    assert _amounts(result) == ["-154.84", "185.81"]
    assert [line.kind for line in result.lines] == [LineKind.CREDIT, LineKind.CHARGE]
    assert result.net == Money(3097, "USD")
    assert str(result.fraction) == "16/31"


def test_seconds_rule_is_exact_time() -> None:
    result = prorate_quantity_change(
        old_quantity=10,
        new_quantity=12,
        unit_price=Money.parse("30.00", "USD"),
        period=_period(date(2026, 1, 1), date(2026, 2, 1)),
        at=datetime(2026, 1, 16, 12, tzinfo=UTC),
        rule=ProrationRule.SECONDS,
        tz=UTC_ZONE,
    )
    assert _amounts(result) == ["-150.00", "180.00"]


def test_jpy_decrease() -> None:
    result = prorate_quantity_change(
        old_quantity=5,
        new_quantity=3,
        unit_price=Money.parse("1000", "JPY"),
        period=_period(date(2026, 2, 1), date(2026, 3, 1)),
        at=local_midnight(date(2026, 2, 20), UTC_ZONE),
        tz=UTC_ZONE,
    )
    assert _amounts(result) == ["-1607", "964"]
    assert result.net == Money(-643, "JPY")


def test_annual_leap_year_rounds_half_up() -> None:
    result = prorate_quantity_change(
        old_quantity=4,
        new_quantity=6,
        unit_price=Money.parse("119.88", "USD"),
        period=_period(date(2028, 1, 1), date(2029, 1, 1)),
        at=local_midnight(date(2028, 3, 1), UTC_ZONE),
        tz=UTC_ZONE,
    )
    # 6 × 11988 × 306/366 = 60136.5 exactly: half-up gives 601.37.
    assert _amounts(result) == ["-400.91", "601.37"]
    assert result.net.to_decimal_string() == "200.46"


def test_daily_counts_days_in_the_account_zone() -> None:
    # 23:30 UTC on Jan 15 is already Jan 16 in Tokyo: 16 days of 31 remain there.
    tokyo = zone("Asia/Tokyo")
    period = Period(
        local_midnight(date(2026, 1, 1), tokyo), local_midnight(date(2026, 2, 1), tokyo)
    )
    result = prorate_quantity_change(
        old_quantity=10,
        new_quantity=12,
        unit_price=Money.parse("30.00", "USD"),
        period=period,
        at=datetime(2026, 1, 15, 23, 30, tzinfo=UTC),
        tz=tokyo,
    )
    assert str(result.fraction) == "16/31"


def test_no_proration_rule_and_period_end_bill_nothing() -> None:
    period = _period(date(2026, 1, 1), date(2026, 2, 1))
    price = Money.parse("30.00", "USD")
    none_rule = prorate_quantity_change(
        old_quantity=10, new_quantity=12, unit_price=price, period=period,
        at=local_midnight(date(2026, 1, 16), UTC_ZONE), rule=ProrationRule.NONE, tz=UTC_ZONE,
    )  # fmt: skip
    at_end = prorate_quantity_change(
        old_quantity=10, new_quantity=12, unit_price=price, period=period, at=period.end,
        tz=UTC_ZONE,
    )  # fmt: skip
    assert none_rule.lines == ()
    assert none_rule.net == Money(0, "USD")
    assert at_end.lines == ()
    assert at_end.net == Money(0, "USD")


def test_instant_outside_the_period_is_an_error() -> None:
    period = _period(date(2026, 1, 1), date(2026, 2, 1))
    for at in (period.start - timedelta(seconds=1), period.end + timedelta(seconds=1)):
        with pytest.raises(ProrationError, match="outside the period"):
            prorate_quantity_change(
                old_quantity=1, new_quantity=2, unit_price=Money(100, "USD"), period=period,
                at=at, tz=UTC_ZONE,
            )  # fmt: skip


def test_decrease_policy_none_produces_no_lines() -> None:
    result = prorate_quantity_change(
        old_quantity=10, new_quantity=8, unit_price=Money.parse("30.00", "USD"),
        period=_period(date(2026, 1, 1), date(2026, 2, 1)),
        at=local_midnight(date(2026, 1, 16), UTC_ZONE),
        decrease_policy=DecreasePolicy.NONE, tz=UTC_ZONE,
    )  # fmt: skip
    assert result.lines == ()
    assert result.net == Money(0, "USD")


periods = st.builds(
    lambda anchor, interval, n: period_n(anchor, interval, n, UTC_ZONE),
    st.dates(min_value=date(2000, 1, 1), max_value=date(2090, 1, 1)),
    st.sampled_from(list(Interval)),
    st.integers(min_value=0, max_value=24),
)


@st.composite
def changes(draw: st.DrawFn) -> dict[str, object]:
    period = draw(periods)
    span = int((period.end - period.start).total_seconds())
    currency = draw(st.sampled_from(["USD", "JPY", "KWD", "EUR"]))
    return {
        "period": period,
        "at": period.start + timedelta(seconds=draw(st.integers(min_value=0, max_value=span))),
        "unit_price": Money(draw(st.integers(min_value=0, max_value=10**9)), currency),
        "old_quantity": draw(st.integers(min_value=0, max_value=10_000)),
        "new_quantity": draw(st.integers(min_value=0, max_value=10_000)),
        "rule": draw(st.sampled_from(list(ProrationRule))),
    }


@given(changes())
def test_a_change_and_its_reverse_at_the_same_instant_net_to_zero(
    change: dict[str, object],
) -> None:
    forward = prorate_quantity_change(**change, tz=UTC_ZONE)  # type: ignore[arg-type]
    reverse_args = dict(
        change, old_quantity=change["new_quantity"], new_quantity=change["old_quantity"]
    )
    reverse = prorate_quantity_change(**reverse_args, tz=UTC_ZONE)  # type: ignore[arg-type]
    assert (forward.net + reverse.net).minor == 0


@given(changes())
def test_decrease_under_policy_none_never_credits(change: dict[str, object]) -> None:
    result = prorate_quantity_change(**change, decrease_policy=DecreasePolicy.NONE, tz=UTC_ZONE)  # type: ignore[arg-type]
    if result.new_quantity < result.old_quantity:
        assert result.lines == ()
        assert result.net.minor == 0


@given(changes())
def test_amounts_are_integer_minor_units_bounded_by_the_full_period(
    change: dict[str, object],
) -> None:
    result = prorate_quantity_change(**change, tz=UTC_ZONE)  # type: ignore[arg-type]
    assert 0 <= result.fraction <= 1
    for line in result.lines:
        assert type(line.amount.minor) is int
        full = line.quantity * result.unit_price.minor
        assert abs(line.amount.minor) <= full
        assert (line.amount.minor <= 0) == (line.kind is LineKind.CREDIT) or line.amount.minor == 0
    assert type(result.net.minor) is int
    assert result.net.currency == result.unit_price.currency
