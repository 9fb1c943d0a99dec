"""How dates, periods, instants, shares of a period and URLs are shown to people: one convention.

Storage and ``--json`` keep exact values (aware UTC instants, exclusive period ends, exact
fractions). People see the account's time zone, the **last day** of a period (inclusive), and a
share as days (``16 of 31 days``) or a percentage (``51.61% of the period``):

    format_period(period, ZoneInfo("Asia/Tokyo"))  →  "1 Nov – 30 Nov 2026 (Asia/Tokyo)"
    format_instant(at, ZoneInfo("Europe/London"))  →  "16 Jan 2026, 09:30 (Europe/London)"

A URL is shown (printed, logged, stored for reading) by :func:`shown_url` only: a password
becomes ``***`` and every query value ``…``, since either may be a credential.

Pure functions over plain values (stdlib and babel only), shared by the CLI and the Slack views.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from zoneinfo import ZoneInfo

from babel.dates import format_date as babel_format_date

from billing.periods import Period, local_date, require_aware
from billing.proration import ProrationRule

#: The babel locale of day and month names (``1 Nov 2026``: day first, abbreviated month).
DEFAULT_DATE_LOCALE = "en_GB"


def format_day(day: date, *, locale: str = DEFAULT_DATE_LOCALE) -> str:
    """A calendar day for people: ``1 Nov 2026``."""
    return babel_format_date(day, "d MMM y", locale=locale)


def first_day(period: Period, tz: ZoneInfo) -> date:
    """The first calendar day of ``period`` in ``tz``."""
    return local_date(period.start, tz)


def last_day(period: Period, tz: ZoneInfo) -> date:
    """The last calendar day of ``period`` in ``tz`` (the stored end is exclusive)."""
    return local_date(period.end - timedelta(microseconds=1), tz)


def period_days(period: Period, tz: ZoneInfo) -> int:
    """How many calendar days ``period`` spans in ``tz`` (first and last day included)."""
    return (last_day(period, tz) - first_day(period, tz)).days + 1


def format_period(
    period: Period, tz: ZoneInfo, *, show_zone: bool = True, locale: str = DEFAULT_DATE_LOCALE
) -> str:
    """``1 Nov – 30 Nov 2026 (Asia/Tokyo)``: first and last day in ``tz``, the year once when
    both days share it; ``show_zone=False`` leaves out the zone (when a heading already says it)."""
    first, last = first_day(period, tz), last_day(period, tz)
    if first.year == last.year:
        start = babel_format_date(first, "d MMM", locale=locale)
    else:
        start = format_day(first, locale=locale)
    text = f"{start} – {format_day(last, locale=locale)}"
    return f"{text} ({tz.key})" if show_zone else text


def format_instant(
    at: datetime, tz: ZoneInfo, *, show_zone: bool = True, locale: str = DEFAULT_DATE_LOCALE
) -> str:
    """``16 Jan 2026, 09:30 (Europe/London)``: an aware instant as wall-clock time in ``tz``."""
    require_aware(at)
    local = at.astimezone(tz)
    text = f"{format_day(local.date(), locale=locale)}, {local:%H:%M}"
    return f"{text} ({tz.key})" if show_zone else text


def format_percent(fraction: Fraction, *, places: int = 2) -> str:
    """An exact ratio as a percentage rounded half-up: ``Fraction(16, 31)`` → ``51.61%``.

    Trailing zeros are kept to ``places`` so that figures line up (``100.00%``)."""
    quantum = Decimal(1).scaleb(-places)
    exact = Decimal(fraction.numerator * 100) / Decimal(fraction.denominator)
    return f"{exact.quantize(quantum, rounding=ROUND_HALF_UP)}%"


def format_share(
    fraction: Fraction, rule: ProrationRule, period: Period, at: datetime, tz: ZoneInfo
) -> str:
    """The share of ``period`` that a change at ``at`` bills, in words.

    ``daily``: ``16 of 31 days`` (the change day counts, as the rule bills it); ``seconds``:
    ``51.61% of the period``; ``none``: ``nothing (no proration)``. ``fraction`` is the exact
    remaining share that :func:`billing.proration.remaining_fraction` computed.
    """
    if rule is ProrationRule.NONE or fraction == 0:
        return "nothing (no proration)" if rule is ProrationRule.NONE else "none of the period"
    if rule is ProrationRule.DAILY:
        whole = period_days(period, tz)
        remaining = (last_day(period, tz) - local_date(at, tz)).days + 1
        # The stored fraction is the truth; the day count is only its reading for people.
        if Fraction(remaining, whole) == fraction:
            unit = "day" if whole == 1 else "days"
            return f"{remaining} of {whole} {unit}"
    return f"{format_percent(fraction)} of the period"


# A URL in running text: a scheme, then anything up to a space, a quote or an angle bracket.
_URL_IN_TEXT = re.compile(r"(?i)\b[a-z][a-z0-9+.-]*://[^\s\"'<>]*")
# ``user:password@`` after the scheme (also in text that is not a valid URL).
_URL_PASSWORD = re.compile(r"^([^:]*://[^:/@\s]*:)[^@\s]*@")


def shown_query(query: str) -> str:
    """A query string with every value replaced by ``…``: ``code=…&state=…``; a part without
    ``=`` may be the secret itself, so it becomes ``…`` as well. Names stay."""
    if not query:
        return query
    return "&".join(
        f"{name}=…" if has_value else "…"
        for name, has_value, _ in (part.partition("=") for part in query.split("&"))
    )


def _shown_one(url: str) -> str:
    url = _URL_PASSWORD.sub(r"\1***@", url)
    before, mark, query = url.partition("?")
    if not mark:
        return url
    query, hash_mark, fragment = query.partition("#")
    return f"{before}?{shown_query(query)}{hash_mark}{fragment}"


def shown_url(text: str) -> str:
    """``text`` with every URL in it safe to print or log: the password of
    ``scheme://user:password@host`` replaced by ``***`` and every query value by ``…``; the
    scheme, user, host, path, query names and fragment stay."""
    return _URL_IN_TEXT.sub(lambda match: _shown_one(match.group(0)), text)
