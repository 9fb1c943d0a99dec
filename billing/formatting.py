"""How values are shown: one formatter for money, dates, instants, periods and percentages.

People (Slack views, the CLI's tables and lines, the digest, the report documents, the chart
titles) see one convention, the ``en`` locale, and the account's time zone and currency:

    format_day(date(2026, 12, 7))                       →  "7 Dec 2026"
    format_instant(at, ZoneInfo("Asia/Tokyo"))          →  "7 Dec 2026, 11:41 (Asia/Tokyo)"
    format_period(period, ZoneInfo("Asia/Tokyo"))       →  "1 Dec 2026 – 31 Dec 2026"
    format_money(Money(4550, "USD"))                    →  "$45.50"  (¥1,000; KWD 29.500)
    format_cost(Money(60000, "USD"), Interval.MONTHLY)  →  "$600.00 a month"
    format_percent(Fraction(1, 800))                    →  "0.13%"   (half-up, two places)

A period shows its **last day** (the stored end is exclusive). JSON keeps exact values: dates as
``YYYY-MM-DD``, instants as UTC ISO 8601 with ``Z`` (:func:`json_instant`), money as a decimal
string (:meth:`billing.money.Money.to_decimal_string`) beside a ``currency`` field.

A URL is shown (printed, logged, stored for reading) by :func:`shown_url` only: a password
becomes ``***`` and every query value ``…``, since either may be a credential.

Pure functions over plain values (stdlib and babel only).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from zoneinfo import ZoneInfo

from babel.dates import format_date as babel_format_date
from babel.numbers import format_currency as babel_format_currency

from billing.money import Money
from billing.periods import Interval, Period, local_date, require_aware
from billing.proration import ProrationRule

#: The one babel locale of what people read: day and month names, money.
LOCALE = "en"
#: The zone of what spans accounts (the audit trail, the outbox, the books' checks).
UTC_ZONE = ZoneInfo("UTC")

# CLDR's currency spacing: a currency shown by letters (``KWD``) is kept apart from the digits
# by a no-break space. Babel does not apply that rule, so it prints ``KWD29.500``.
_LETTERS_AGAINST_DIGITS = re.compile(r"(?<=[^\W\d_])(?=\d)|(?<=\d)(?=[^\W\d_])")


def format_money(amount: Money, *, locale: str = LOCALE) -> str:
    """An amount in its currency, with the currency's minor units, as babel shows it for
    ``locale`` (``$45.50``, ``¥1,000``, ``-$154.84``), a letter symbol set apart by a no-break
    space as CLDR asks (``KWD\u00a029.500``)."""
    shown = str(babel_format_currency(amount.to_decimal(), amount.currency, locale=locale))
    return _LETTERS_AGAINST_DIGITS.sub("\u00a0", shown)


#: One period of each interval, as a price is said ("$600.00 a month").
_PER_INTERVAL = {
    Interval.WEEKLY: "a week",
    Interval.MONTHLY: "a month",
    Interval.QUARTERLY: "a quarter",
    Interval.ANNUAL: "a year",
}


def per_period(interval: Interval) -> str:
    """One period of ``interval`` as a price says it: ``a month``."""
    return _PER_INTERVAL[interval]


def format_cost(amount: Money, interval: Interval) -> str:
    """An amount paid every period: ``$600.00 a month``, ``¥90,000 a year``."""
    return f"{format_money(amount)} {per_period(interval)}"


def format_day(day: date) -> str:
    """A calendar day for people: ``7 Dec 2026``."""
    return str(babel_format_date(day, "d MMM y", locale=LOCALE))


def first_day(period: Period, tz: ZoneInfo) -> date:
    """The first calendar day of ``period`` in ``tz``."""
    return local_date(period.start, tz)


def last_day(period: Period, tz: ZoneInfo) -> date:
    """The last calendar day of ``period`` in ``tz`` (the stored end is exclusive)."""
    return local_date(period.end - timedelta(microseconds=1), tz)


def period_days(period: Period, tz: ZoneInfo) -> int:
    """How many calendar days ``period`` spans in ``tz`` (first and last day included)."""
    return (last_day(period, tz) - first_day(period, tz)).days + 1


def format_period(period: Period, tz: ZoneInfo) -> str:
    """``1 Dec 2026 – 31 Dec 2026``: the first and the last (inclusive) day in ``tz``."""
    return f"{format_day(first_day(period, tz))} – {format_day(last_day(period, tz))}"


def format_instant(at: datetime, tz: ZoneInfo, *, show_zone: bool = True) -> str:
    """``7 Dec 2026, 11:41 (Asia/Tokyo)``: an aware instant as wall-clock time in ``tz``;
    ``show_zone=False`` leaves out the zone (when a heading already says it)."""
    require_aware(at)
    local = at.astimezone(tz)
    text = f"{format_day(local.date())}, {local:%H:%M}"
    return f"{text} ({tz.key})" if show_zone else text


def json_instant(at: datetime) -> str:
    """An aware instant for JSON: UTC ISO 8601 with ``Z`` (``2026-12-07T02:41:00Z``)."""
    require_aware(at)
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def format_percent(fraction: Fraction, *, places: int = 2) -> str:
    """An exact ratio as a percentage rounded half-up: ``Fraction(1, 800)`` → ``0.13%``.

    Trailing zeros are kept to ``places`` so that figures line up (``100.00%``)."""
    quantum = Decimal(1).scaleb(-places)
    exact = Decimal(fraction.numerator * 100) / Decimal(fraction.denominator)
    return f"{exact.quantize(quantum, rounding=ROUND_HALF_UP)}%"


def format_share(
    fraction: Fraction, rule: ProrationRule, period: Period, at: datetime, tz: ZoneInfo
) -> str:
    """The share of ``period`` that a change at ``at`` bills, in words.

    ``daily``: ``16 of 31 days`` (the change day counts, as the rule bills it); ``seconds``:
    the time left to the minute, ``15 days 5 h 30 min of 31 days``; ``none``: ``nothing (no
    proration)``. ``fraction`` is the exact remaining share that
    :func:`billing.proration.remaining_fraction` computed; the words only read it.
    """
    if rule is ProrationRule.NONE or fraction == 0:
        return "nothing (no proration)" if rule is ProrationRule.NONE else "none of the period"
    whole = period_days(period, tz)
    of_whole = f"of {whole} {'day' if whole == 1 else 'days'}"
    if rule is ProrationRule.SECONDS:
        return f"{_time_left(period.end - at)} {of_whole}"
    remaining = (last_day(period, tz) - local_date(at, tz)).days + 1
    # The stored fraction is the truth; the day count is only its reading for people.
    if Fraction(remaining, whole) == fraction:
        return f"{remaining} {of_whole}"
    return f"{format_percent(fraction)} of the period"


def _time_left(left: timedelta) -> str:
    """``15 days 5 h 30 min`` (``16`` alone for whole days, to read ``16 of 31 days``)."""
    days, minutes = divmod(int(left.total_seconds()) // 60, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    if not hours and not minutes:
        return str(days) if days else "under a minute"
    parts = [f"{days} {'day' if days == 1 else 'days'}"] if days else []
    parts += [f"{hours} h"] if hours else []
    parts += [f"{minutes} min"] if minutes else []
    return " ".join(parts)


# A URL in running text: a scheme, then anything up to white space, less the punctuation that
# closes it in a sentence, a repr or markup (``'https://…'``, ``<https://…>``, ``(see …),``).
# Not cut at a quote or bracket inside it: ``?token=ab'secret`` is one query value.
_URL_IN_TEXT = re.compile(r"(?i)\b[a-z][a-z0-9+.-]*://(?:\S*[^\s'\"<>()\[\]{},;.])?")
# The userinfo ``user:password@`` of a URL: inside the authority (up to the first "/", "?" or
# "#"), to its last "@"; or, where the authority would end at a port that is no number,
# across "/" up to the last "@" before the query (``user:pa/ss@host``: a password holding "/").
_USERINFO = re.compile(
    r"(?i)^([a-z][a-z0-9+.-]*://)([^/?#]*|[^:/?#@\[\]]*:(?!\d*(?:[/?#]|$))[^?#]*)@"
)


def has_userinfo(url: str) -> bool:
    """Whether ``url`` holds a user name or password before its host (``user:password@``,
    ``token@``), read as :func:`shown_url` reads it."""
    return _USERINFO.match(url) is not None


def shown_query(query: str) -> str:
    """A query string with every value replaced by ``…``: ``code=…&state=…``; a part without
    ``=`` may be the secret itself, so it becomes ``…`` as well. Names stay, and so does an
    empty value or part (nothing to hide): the shown query is never longer than the query."""
    return "&".join(
        f"{name}={'…' if value else ''}" if has_value else ("…" if name else "")
        for name, has_value, value in (part.partition("=") for part in query.split("&"))
    )


def _shown_one(url: str) -> str:
    userinfo = _USERINFO.match(url)
    if userinfo is not None:
        user, colon, _ = userinfo.group(2).partition(":")
        url = f"{userinfo.group(1)}{user}{colon and ':***'}@{url[userinfo.end() :]}"
    before, mark, query = url.partition("?")
    if not mark:
        return url
    query, hash_mark, fragment = query.partition("#")
    return f"{before}?{shown_query(query)}{hash_mark}{fragment}"


def shown_url(text: str) -> str:
    """``text`` with every URL in it safe to print or log: the password of
    ``scheme://user:password@host`` replaced by ``***`` and every query value by ``…``; the
    scheme, user, host, path, query names and fragment stay. A URL without a password is
    never shown longer than it is (so its shown form fits where the URL fits)."""
    shown, end = [], 0
    for match in _URL_IN_TEXT.finditer(text):
        start, stop = match.span()
        url = match.group(0)
        # A "]" closing a "[" of the URL is its own ("http://[::1]", "token=[redacted]"), not
        # the punctuation of the text around it.
        while url.count("[") > url.count("]") and text.startswith("]", stop):
            url, stop = url + "]", stop + 1
        shown += [text[end:start], _shown_one(url)]
        end = stop
    return "".join([*shown, text[end:]])
