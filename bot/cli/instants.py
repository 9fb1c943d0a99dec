"""Parsing dates and instants given on the command line."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from billing.periods import local_midnight


class InstantError(ValueError):
    """Text that is neither a ``YYYY-MM-DD`` date nor an ISO 8601 instant."""


def parse_instant(text: str, tz: ZoneInfo) -> datetime:
    """``YYYY-MM-DD`` → midnight in ``tz``; an ISO 8601 date-time with an offset (or ``Z``) → that
    instant; a date-time without an offset is read as wall-clock time in ``tz``. Returns UTC."""
    value = text.strip()
    try:
        if len(value) == 10:
            return local_midnight(date.fromisoformat(value), tz)
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise InstantError(f"{text!r} is not a date (YYYY-MM-DD) or an ISO 8601 instant") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=tz)
    return parsed.astimezone(ZoneInfo("UTC"))
