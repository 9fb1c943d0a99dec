"""The rules of a seat change, as pure functions over plain values (no database, no clock).

What seat count a command asks for, whether that count may be requested, whether a stored
quote is still good, and what a click on a confirmation does: each is decided here, so Slack,
the command line and the scheduler follow the same rules. The use cases in
:mod:`billing.seats.service` load the values, call these functions and persist the outcome.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from billing.errors import InvalidInput, InvalidSeatCount, QuoteUnavailable
from billing.formatting import format_day, format_period, last_day
from billing.money import Money
from billing.periods import Period, PeriodError, local_date
from billing.products import MAX_SEATS, Product
from billing.proration import Proration, ProrationError, prorate_quantity_change
from billing.requests import RequestStatus
from billing.seats.decrease import SeatCheck
from billing.views import SubscriptionView

#: The longest reason an owner may give for a change (the modal allows as much).
MAX_REASON_LENGTH = 500

#: Characters a reason may not keep: C0 and C1 controls, DEL, and lone surrogates.
_UNSTORABLE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


class ChangeMode(enum.StrEnum):
    """How the number in a change command is read."""

    ADD = "add"  # that many more seats
    REMOVE = "remove"  # that many fewer seats
    SET = "set"  # exactly that many seats


def target_seats(mode: ChangeMode, count: int, current: int, product: Product) -> int:
    """The seat count ``mode``/``count`` asks for when the subscription has ``current`` seats.

    Raises :class:`InvalidSeatCount` when the result is not a count that may be requested.
    """
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise InvalidSeatCount("The number of seats must be a whole number.")
    if count == 0 and mode is not ChangeMode.SET:
        verb = "Adding" if mode is ChangeMode.ADD else "Removing"
        raise InvalidSeatCount(f"{verb} 0 seats changes nothing: use a positive number.")
    if mode is ChangeMode.ADD:
        target = current + count
    elif mode is ChangeMode.REMOVE:
        if count > current:
            raise InvalidSeatCount(
                f"{product.label} has {current} seats, so at most {current} can be removed."
            )
        target = current - count
    else:
        target = count
    check_seat_count(target, current, product)
    return target


def seat_count_problem(
    new_seats: int, current: int, product: Product, *, users: int | None = None
) -> str | None:
    """Why ``new_seats`` may not be requested for a subscription of ``current`` seats, or
    ``None`` when it may (the message is written for the owner). ``users``, when known, is how
    many users exist on the platform: a decrease below it is refused as
    :func:`billing.seats.decrease.check_seat_change` would."""
    if isinstance(new_seats, bool) or not isinstance(new_seats, int):
        return "The number of seats must be a whole number."
    if new_seats < 0:
        return "The number of seats cannot be negative."
    if new_seats > MAX_SEATS:
        return f"At most {MAX_SEATS:,} seats can be requested."
    if new_seats == current:
        return f"{product.label} already has {current} seats."
    if users is not None and new_seats < current and new_seats < users:
        return (
            f"{users} users exist on {product.label}: delete {users - new_seats} of them there "
            f"first, or choose {users} seats or more."
        )
    return None


def check_seat_count(new_seats: int, current: int, product: Product) -> None:
    """Raise :class:`InvalidSeatCount` with :func:`seat_count_problem`'s message, if any."""
    problem = seat_count_problem(new_seats, current, product)
    if problem is not None:
        raise InvalidSeatCount(problem)


def clean_reason(reason: str) -> str:
    """The reason as stored, for a seat change or for denying one: one line of text, stripped,
    at most :data:`MAX_REASON_LENGTH` characters.

    Control characters (U+0000–U+001F, U+007F–U+009F: line breaks, tabs, NUL…) and lone
    surrogates become spaces and runs of spaces one space, the same on every database:
    PostgreSQL cannot store NUL in text, and a surrogate is not UTF-8 at all. Raises
    :class:`InvalidInput` when the cleaned reason is too long.
    """
    cleaned = " ".join(_UNSTORABLE.sub(" ", reason).split())
    if len(cleaned) > MAX_REASON_LENGTH:
        raise InvalidInput(f"The reason can be at most {MAX_REASON_LENGTH} characters long.")
    return cleaned


def quote_change(
    subscription: SubscriptionView, new_seats: int, at: datetime, period: Period, tz: ZoneInfo
) -> Proration:
    """The proration of changing ``subscription`` to ``new_seats`` at ``at`` within ``period``."""
    try:
        return prorate_quantity_change(
            old_quantity=subscription.seats,
            new_quantity=new_seats,
            unit_price=subscription.unit_price,
            period=period,
            at=at,
            rule=subscription.rule,
            decrease_policy=subscription.decrease_policy,
            tz=tz,
        )
    except (ProrationError, PeriodError) as exc:
        raise QuoteUnavailable(
            "This change cannot be priced at that time: it falls outside the subscription's "
            f"current billing period ({format_period(period, tz)})."
        ) from exc


def check_quote_instant(
    at: datetime, *, started_at: datetime, current: Period, tz: ZoneInfo
) -> None:
    """A quote's instant must fall in the subscription's life: not before it started, and not
    after the billing period running now (``current``), which later changes and renewals would
    reprice. Raises :class:`QuoteUnavailable` naming the bound as a day in the account's zone
    ``tz`` (the period's last day included)."""
    if at < started_at:
        raise QuoteUnavailable(
            f"The subscription started on {format_day(local_date(started_at, tz))} ({tz.key}): "
            "there is no price for a change before that."
        )
    if at >= current.end:
        raise QuoteUnavailable(
            "Only changes in the current billing period can be priced; its last day is "
            f"{format_day(last_day(current, tz))} ({tz.key})."
        )


class Staleness(enum.StrEnum):
    """Why a stored quote may no longer be applied as it stands."""

    SUBSCRIPTION_CHANGED = "subscription_changed"
    NEW_PERIOD = "new_period"
    EXPIRED = "expired"

    @property
    def note(self) -> str:
        """What the owner is told above the new quote."""
        return _STALE_NOTES[self]


_STALE_NOTES = {
    Staleness.SUBSCRIPTION_CHANGED: (
        "The subscription changed since this quote; here is the updated price. Confirm again."
    ),
    Staleness.NEW_PERIOD: (
        "A new billing period started since this quote; here is the updated price. Confirm again."
    ),
    Staleness.EXPIRED: "This quote expired; here is the updated price. Confirm again.",
}

#: What the owner is told when they click a message older than the request's current quote.
OLDER_MESSAGE_NOTE = (
    "That message showed an older price; here is the current one. Confirm again to apply it."
)


def quote_moved(
    *, quoted_version: int, quoted_period: Period, subscription_version: int, at: datetime
) -> Staleness | None:
    """Why a quote can no longer be applied whatever its age: the subscription changed, or
    the billing period it priced ended."""
    if subscription_version != quoted_version:
        return Staleness.SUBSCRIPTION_CHANGED
    if not quoted_period.contains(at):
        return Staleness.NEW_PERIOD
    return None


def staleness(
    *,
    quoted_version: int,
    quoted_period: Period,
    quoted_at: datetime,
    subscription_version: int,
    at: datetime,
    ttl: timedelta,
) -> Staleness | None:
    """Why a quote made at ``quoted_at`` on subscription version ``quoted_version`` for
    ``quoted_period`` may not be applied at ``at``, or ``None`` when it may."""
    moved = quote_moved(
        quoted_version=quoted_version,
        quoted_period=quoted_period,
        subscription_version=subscription_version,
        at=at,
    )
    if moved is not None:
        return moved
    if at - quoted_at > ttl:
        return Staleness.EXPIRED
    return None


class Step(enum.StrEnum):
    """What a click on Confirm does."""

    SETTLED = "settled"  # the request is no longer a draft: report what became of it
    SHOW_CURRENT = "show_current"  # the click came from an older message: show the current quote
    REQUOTE = "requote"  # the stored quote went stale: quote again, show it, ask again
    NEED_USERS = "need_users"  # a decrease: the platform's users are needed to decide
    REFUSE = "refuse"  # a decrease the platform's users forbid (or that cannot be checked)
    APPLY = "apply"  # apply exactly the stored quote the clicked message showed


@dataclass(frozen=True, slots=True)
class ConfirmFacts:
    """What a confirmation is decided on."""

    status: RequestStatus
    clicked_revision: int
    stored_revision: int
    stale: Staleness | None
    is_decrease: bool
    check: SeatCheck | None  # the decrease rule's answer, when the users were listed


def confirm_step(facts: ConfirmFacts) -> Step:
    """The one place that decides what a Confirm click does.

    Only a click carrying the stored quote's revision, on a draft whose quote is still good,
    applies, and a decrease only when the users that exist allow it. Anything else shows the
    owner the current state and applies nothing.
    """
    if facts.status is not RequestStatus.DRAFT:
        return Step.SETTLED
    if facts.clicked_revision != facts.stored_revision:
        return Step.SHOW_CURRENT
    if facts.stale is not None:
        return Step.REQUOTE
    if not facts.is_decrease:
        return Step.APPLY
    if facts.check is None:
        return Step.NEED_USERS
    return Step.APPLY if facts.check.allowed else Step.REFUSE


def net_of(lines_minor: list[int], currency: str) -> Money:
    """The net of stored line amounts (minor units)."""
    return Money(sum(lines_minor), currency)


#: Accounts read for one page of the App Home (the tab shows those its 100 blocks hold).
HOME_PAGE = 20


def home_start(start: int, total: int) -> int:
    """Where a page of the App Home starts: ``start`` kept within the caller's ``total``
    accounts (a button from before some were removed may point past the end: the last page)."""
    if total <= 0 or start < 0:
        return 0
    return min(start, total - 1)
