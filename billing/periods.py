"""Calendar-true billing periods.

A period runs from midnight (account time zone) on a boundary date to midnight on the next
boundary date; the end is exclusive. Boundary ``n`` is always computed from the anchor itself
(never from the previous boundary), so an anchor on Jan 31 gives Jan 31 → Feb 28 (29 in leap
years) → Mar 31 → Apr 30, not a drift to the 28th.
"""

from __future__ import annotations

import calendar
import enum
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from billing.errors import SeatbotError


class Interval(enum.StrEnum):
    """How long one billing period is."""

    WEEKLY = "weekly"
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    ANNUAL = "annual"


_MONTHS_PER_PERIOD = {Interval.MONTHLY: 1, Interval.QUARTERLY: 3, Interval.ANNUAL: 12}


class PeriodError(SeatbotError):
    """An instant, time zone or period that cannot be used."""


def zone(name: str) -> ZoneInfo:
    """The IANA time zone ``name`` (``Europe/London``), or :class:`PeriodError`."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise PeriodError(f"unknown time zone {name!r} (expected an IANA name)") from exc


def add_months(day: date, months: int) -> date:
    """``day`` moved by ``months`` calendar months, clamped to the last day of the target month."""
    index = day.year * 12 + (day.month - 1) + months
    year, month0 = divmod(index, 12)
    last = calendar.monthrange(year, month0 + 1)[1]
    return date(year, month0 + 1, min(day.day, last))


def boundary(anchor: date, interval: Interval, n: int) -> date:
    """The date of the ``n``-th period boundary after (n > 0) or before (n < 0) ``anchor``."""
    if interval is Interval.WEEKLY:
        return anchor + timedelta(weeks=n)
    return add_months(anchor, n * _MONTHS_PER_PERIOD[interval])


def local_midnight(day: date, tz: ZoneInfo) -> datetime:
    """Midnight at the start of ``day`` in ``tz``, as an aware UTC datetime."""
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


def local_date(instant: datetime, tz: ZoneInfo) -> date:
    """The calendar date of an aware instant in ``tz``."""
    require_aware(instant)
    return instant.astimezone(tz).date()


def require_aware(instant: datetime) -> None:
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise PeriodError("instants must be timezone-aware")


@dataclass(frozen=True)
class Period:
    """A billing period ``[start, end)`` as aware UTC instants, with its boundary index."""

    start: datetime
    end: datetime
    index: int = 0

    def __post_init__(self) -> None:
        require_aware(self.start)
        require_aware(self.end)
        if self.end <= self.start:
            raise PeriodError("a period must end after it starts")

    def contains(self, instant: datetime) -> bool:
        return self.start <= instant < self.end


def period_at(anchor: date, interval: Interval, at: datetime, tz: ZoneInfo) -> Period:
    """The period of a subscription anchored on ``anchor`` that contains the instant ``at``."""
    require_aware(at)
    day = local_date(at, tz)
    if interval is Interval.WEEKLY:
        n = (day - anchor).days // 7
    else:
        months = (day.year - anchor.year) * 12 + (day.month - anchor.month)
        n = months // _MONTHS_PER_PERIOD[interval]
    # The month arithmetic lands on n or one off it (day-of-month clamping); settle exactly.
    while local_midnight(boundary(anchor, interval, n), tz) > at:
        n -= 1
    while local_midnight(boundary(anchor, interval, n + 1), tz) <= at:
        n += 1
    return period_n(anchor, interval, n, tz)


def period_n(anchor: date, interval: Interval, n: int, tz: ZoneInfo) -> Period:
    """The ``n``-th period of a subscription (period 0 starts on the anchor)."""
    return Period(
        start=local_midnight(boundary(anchor, interval, n), tz),
        end=local_midnight(boundary(anchor, interval, n + 1), tz),
        index=n,
    )
