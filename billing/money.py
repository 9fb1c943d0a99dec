"""Money as integer minor units of an ISO 4217 currency; exact ratios, rounded once.

The exponent of each currency (USD 2, JPY 0, KWD 3) comes from babel's CLDR data, never from a
hand-written table. Amounts are never floats. How an amount is shown to people is
:func:`billing.formatting.format_money`; in JSON it is :meth:`Money.to_decimal_string`.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from functools import cache

from babel.numbers import get_currency_precision, list_currencies

from billing.errors import SeatbotError


class MoneyError(SeatbotError):
    """Bad money input: unknown currency, too many decimals, unparsable amount."""


class CurrencyMismatchError(MoneyError):
    """Two amounts in different currencies were combined."""


@cache
def _known_currencies() -> frozenset[str]:
    return frozenset(list_currencies())


def normalise_currency(code: str) -> str:
    """Return the upper-case ISO 4217 code, or raise :class:`MoneyError` if it is unknown."""
    upper = code.strip().upper()
    if upper not in _known_currencies():
        raise MoneyError(f"unknown currency {code!r} (expected an ISO 4217 code such as USD)")
    return upper


@cache
def currency_exponent(code: str) -> int:
    """Number of decimal places of the currency's minor unit (USD 2, JPY 0, KWD 3)."""
    return int(get_currency_precision(normalise_currency(code)))


def round_half_up(value: Fraction) -> int:
    """Round an exact ratio to an integer, halves away from zero (commercial rounding)."""
    magnitude = abs(value)
    rounded = (magnitude.numerator * 2 + magnitude.denominator) // (magnitude.denominator * 2)
    return rounded if value >= 0 else -rounded


@dataclass(frozen=True, order=False)
class Money:
    """An amount in integer minor units (cents for USD, yen for JPY) of ``currency``."""

    minor: int
    currency: str

    def __post_init__(self) -> None:
        if isinstance(self.minor, bool) or not isinstance(self.minor, int):
            raise MoneyError(f"minor units must be an integer, not {type(self.minor).__name__}")
        object.__setattr__(self, "currency", normalise_currency(self.currency))

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(0, currency)

    @classmethod
    def parse(cls, amount: str | Decimal | int, currency: str) -> Money:
        """Parse a decimal amount ("30.00", "1000") in major units; more decimals than the
        currency has is an error, never silently rounded."""
        code = normalise_currency(currency)
        try:
            value = (
                Decimal(str(amount).strip().replace(",", ""))
                if not isinstance(amount, Decimal)
                else amount
            )
        except InvalidOperation as exc:
            raise MoneyError(f"not an amount: {amount!r}") from exc
        if not value.is_finite():
            raise MoneyError(f"not an amount: {amount!r}")
        scaled = value.scaleb(currency_exponent(code))
        if scaled != scaled.to_integral_value():
            raise MoneyError(
                f"{amount} has more decimals than {code} allows ({currency_exponent(code)})"
            )
        return cls(int(scaled), code)

    @property
    def exponent(self) -> int:
        return currency_exponent(self.currency)

    def to_decimal(self) -> Decimal:
        """The amount in major units, exactly (``Decimal('30.97')``)."""
        return Decimal(self.minor).scaleb(-self.exponent)

    def to_decimal_string(self) -> str:
        """The amount as a plain decimal string with the currency's decimals ("-154.84", "964")."""
        exponent = self.exponent
        sign = "-" if self.minor < 0 else ""
        digits = str(abs(self.minor)).rjust(exponent + 1, "0")
        if exponent == 0:
            return f"{sign}{digits}"
        return f"{sign}{digits[:-exponent]}.{digits[-exponent:]}"

    def _check(self, other: Money) -> None:
        if not isinstance(other, Money):
            raise TypeError(f"cannot combine Money with {type(other).__name__}")
        if other.currency != self.currency:
            raise CurrencyMismatchError(f"cannot combine {self.currency} with {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._check(other)
        return Money(self.minor + other.minor, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._check(other)
        return Money(self.minor - other.minor, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.minor, self.currency)

    def __lt__(self, other: Money) -> bool:
        self._check(other)
        return self.minor < other.minor

    def __le__(self, other: Money) -> bool:
        self._check(other)
        return self.minor <= other.minor

    def times(self, ratio: Fraction | int) -> Money:
        """Multiply by an exact ratio, rounding once, half-up, to the minor unit."""
        return Money(round_half_up(Fraction(self.minor) * ratio), self.currency)


def sum_money(amounts: list[Money], currency: str) -> Money:
    """Sum amounts of one currency (an empty list sums to zero in ``currency``)."""
    total = Money.zero(currency)
    for amount in amounts:
        total = total + amount
    return total
