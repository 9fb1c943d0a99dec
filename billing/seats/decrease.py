"""The decrease rule: may a subscription go from ``current`` to ``new`` seats, given the users
that exist on its platform?

A seat held by a user who exists on the platform cannot be removed (the Billing Portal's rule),
so a decrease below the number of existing users is ``blocked``, naming the users that must be
deleted on the platform first. When the users are unknown (the platform could not be read
completely, or was not asked), a decrease is ``unknown`` and refused: it fails closed, never
guessing "fewer users". Pure: no I/O, no clock.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

from billing.users import Level, PlatformUser, UserListing, UserStatus


class DecreaseVerdict(enum.StrEnum):
    """The rule's answer."""

    ALLOWED = "allowed"
    BLOCKED = "blocked"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class SeatCheck:
    """What the rule found for one seat change.

    ``user_count`` is the number of users (= seats held) on the platform, or ``None`` when it
    is unknown. ``must_delete`` is how many users must be deleted on the platform before a
    blocked decrease can go through (0 unless blocked); ``blocking_users`` are those users,
    likeliest first (:func:`deletion_candidate_order`). ``reason`` is the owner-facing sentence
    saying why the answer is ``unknown``; ``None`` otherwise.
    """

    verdict: DecreaseVerdict
    user_count: int | None
    must_delete: int = 0
    blocking_users: tuple[PlatformUser, ...] = ()
    reason: str | None = None

    @property
    def allowed(self) -> bool:
        return self.verdict is DecreaseVerdict.ALLOWED

    @property
    def blocked(self) -> bool:
        """Users must be deleted on the platform first."""
        return self.verdict is DecreaseVerdict.BLOCKED

    @property
    def unknown(self) -> bool:
        """The users could not be read, so the decrease is refused."""
        return self.verdict is DecreaseVerdict.UNKNOWN


def deletion_candidate_order(user: PlatformUser) -> tuple[object, ...]:
    """Sort key putting the likeliest users to delete first.

    1. inactive users before active ones (an inactive user still holds a seat);
    2. admins last, so Seatbot never suggests deleting the people who run the account first;
    3. longest since last activity first; a user who was never active counts as the longest;
    4. most recently created first (a seat added by mistake is the cheapest to undo);
    5. extension number, so the order is stable and the same on every run.
    """
    # Timestamps, because a datetime cannot be negated: -timestamp sorts newest first.
    last_active = user.last_active_at.timestamp() if user.last_active_at else float("-inf")
    created = -user.created_at.timestamp() if user.created_at else float("inf")
    return (
        user.status is UserStatus.ACTIVE,
        user.level is Level.ADMIN,
        last_active,
        created,
        user.extension,
    )


def in_deletion_order(users: Iterable[PlatformUser]) -> list[PlatformUser]:
    """``users``, the likeliest to delete first (:func:`deletion_candidate_order`): how a
    decrease's blockers are shown, and how ``seatbot users`` lists a platform."""
    return sorted(users, key=deletion_candidate_order)


NOT_ASKED = "Seatbot did not ask the platform which users exist, so nothing was changed."


def check_seat_change(current: int, new: int, listing: UserListing | None) -> SeatCheck:
    """Decide whether the seats may go from ``current`` to ``new`` given ``listing``.

    An increase (or no change) is always allowed; ``user_count`` still reports the listing's
    count when there is one. A decrease is allowed when every existing user keeps a seat,
    blocked when users must be deleted first, and unknown when the listing is missing or
    incomplete.
    """
    if current < 0 or new < 0:
        raise ValueError("seat counts cannot be negative")
    count = listing.count if listing is not None else None
    if new >= current:
        return SeatCheck(DecreaseVerdict.ALLOWED, count)
    if listing is None or listing.users is None:
        reason = listing.problem if listing is not None else None
        return SeatCheck(DecreaseVerdict.UNKNOWN, None, reason=reason or NOT_ASKED)
    users = listing.users
    if len(users) <= new:
        return SeatCheck(DecreaseVerdict.ALLOWED, len(users))
    must_delete = len(users) - new
    candidates = tuple(in_deletion_order(users)[:must_delete])
    return SeatCheck(DecreaseVerdict.BLOCKED, len(users), must_delete, candidates)
