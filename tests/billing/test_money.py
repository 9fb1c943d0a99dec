from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing.money import (
    CurrencyMismatchError,
    Money,
    MoneyError,
    currency_exponent,
    round_half_up,
)


@pytest.mark.parametrize(("code", "exponent"), [("USD", 2), ("JPY", 0), ("KWD", 3), ("eur", 2)])
def test_exponent_comes_from_the_currency(code: str, exponent: int) -> None:
    assert currency_exponent(code) == exponent


def test_parse_scales_to_minor_units() -> None:
    assert Money.parse("30.00", "USD") == Money(3000, "USD")
    assert Money.parse("1000", "JPY") == Money(1000, "JPY")
    assert Money.parse("1.234", "KWD") == Money(1234, "KWD")


@pytest.mark.parametrize(
    ("amount", "currency"), [("30.001", "USD"), ("1.5", "JPY"), ("abc", "USD"), ("NaN", "USD")]
)
def test_parse_refuses_what_the_currency_cannot_hold(amount: str, currency: str) -> None:
    with pytest.raises(MoneyError):
        Money.parse(amount, currency)


def test_unknown_currency_is_an_error() -> None:
    with pytest.raises(MoneyError, match="unknown currency"):
        Money(1, "XXQ")


def test_float_minor_units_are_refused() -> None:
    with pytest.raises(MoneyError):
        Money(1.5, "USD")  # type: ignore[arg-type]


def test_decimal_strings() -> None:
    assert Money(-15484, "USD").to_decimal_string() == "-154.84"
    assert Money(5, "USD").to_decimal_string() == "0.05"
    assert Money(-643, "JPY").to_decimal_string() == "-643"
    assert Money(5, "KWD").to_decimal_string() == "0.005"


def test_mixing_currencies_is_an_error() -> None:
    with pytest.raises(CurrencyMismatchError):
        _ = Money(1, "USD") + Money(1, "EUR")
    with pytest.raises(CurrencyMismatchError):
        _ = Money(1, "USD") < Money(1, "JPY")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Fraction(1, 2), 1),
        (Fraction(-1, 2), -1),
        (Fraction(3, 2), 2),
        (Fraction(49, 100), 0),
        (Fraction(-51, 100), -1),
        (Fraction(60136, 1) + Fraction(1, 2), 60137),
    ],
)
def test_round_half_up(value: Fraction, expected: int) -> None:
    assert round_half_up(value) == expected


@given(st.fractions())
def test_round_half_up_is_within_half_and_symmetric(value: Fraction) -> None:
    rounded = round_half_up(value)
    assert isinstance(rounded, int)
    assert abs(rounded - value) <= Fraction(1, 2)
    assert round_half_up(-value) == -rounded


@given(st.integers(min_value=-(10**15), max_value=10**15), st.sampled_from(["USD", "JPY", "KWD"]))
def test_decimal_string_round_trips(minor: int, currency: str) -> None:
    money = Money(minor, currency)
    assert Money.parse(money.to_decimal_string(), currency) == money
    assert money.to_decimal() == Decimal(money.to_decimal_string())
