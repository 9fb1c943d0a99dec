"""Parsing dates and instants given on the command line."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from billing.errors import InvalidInput
from billing.periods import local_midnight


def parse_instant(text: str, tz: ZoneInfo, name: str) -> datetime:
    """``YYYY-MM-DD`` → midnight in ``tz``; an ISO 8601 date-time with an offset (or ``Z``) → that
    instant; a date-time without an offset is read as wall-clock time in ``tz``. Returns UTC.
    Anything else is :class:`billing.errors.InvalidInput` naming the option ``name``."""
    value = text.strip()
    try:
        if len(value) == 10:
            return local_midnight(date.fromisoformat(value), tz)
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(
            f"{name}: {text!r} is not a date (YYYY-MM-DD) or an ISO 8601 instant"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=tz)
    return parsed.astimezone(ZoneInfo("UTC"))
