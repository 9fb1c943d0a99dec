"""The decrease guard: may a subscription go from ``current_seats`` to ``new_seats``?

A seat held by a user who exists on the platform cannot be removed (the Billing Portal's rule),
so a decrease below the number of existing users is ``blocked``, with the users that must be
deleted on the platform first. When the platform cannot be read completely, a decrease is
``unknown`` and must be refused: the guard fails closed, never guessing "fewer users".
"""

from __future__ import annotations

import asyncio
import enum
import logging
from dataclasses import dataclass, field

from platforms.errors import PlatformError
from platforms.types import Level, Platform, PlatformUser, UserStatus

logger = logging.getLogger(__name__)


class Verdict(enum.StrEnum):
    """The guard's answer."""

    ALLOWED = "allowed"
    BLOCKED = "blocked"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class GuardResult:
    """What the guard found.

    ``user_count`` is the number of users (= seats held) on the platform, or ``None`` when it
    could not be read. ``must_delete`` is how many users must be deleted on the platform before
    a blocked decrease can go through (0 unless blocked). ``blocking_users`` are those users,
    in :func:`deletion_candidate_order`. ``reason`` is an owner-facing sentence saying why the
    answer is ``unknown``; it is ``None`` otherwise.
    """

    verdict: Verdict
    user_count: int | None
    must_delete: int = 0
    blocking_users: list[PlatformUser] = field(default_factory=list)
    reason: str | None = None

    @property
    def decrease_refused(self) -> bool:
        """True when the change must not be offered for confirmation."""
        return self.verdict is not Verdict.ALLOWED


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


async def check_seat_change(
    platform: Platform | None,
    current_seats: int,
    new_seats: int,
    *,
    deadline_s: float,
) -> GuardResult:
    """Decide whether a seat count may change from ``current_seats`` to ``new_seats``.

    An increase (or no change) is always ``allowed``; the platform is still read, within
    ``deadline_s`` seconds, so the owner sees how many seats are in use (``user_count`` is
    ``None`` if that failed). A decrease is ``allowed`` when every existing user keeps a seat,
    ``blocked`` when users must be deleted first, and ``unknown`` whenever the complete user
    list cannot be read within ``deadline_s`` seconds, for any reason.
    """
    if current_seats < 0 or new_seats < 0:
        raise ValueError("seat counts cannot be negative")
    is_decrease = new_seats < current_seats
    if platform is None:
        if not is_decrease:
            return GuardResult(Verdict.ALLOWED, user_count=None)
        return GuardResult(
            Verdict.UNKNOWN,
            user_count=None,
            reason=(
                "No platform connection is set up for this product, so Seatbot cannot check "
                "which users exist; nothing was changed; ask the operator to connect it."
            ),
        )
    users, reason = await read_users(platform, deadline_s)
    if users is None:
        verdict = Verdict.UNKNOWN if is_decrease else Verdict.ALLOWED
        return GuardResult(verdict, user_count=None, reason=reason if is_decrease else None)
    user_count = len(users)
    if not is_decrease or user_count <= new_seats:
        return GuardResult(Verdict.ALLOWED, user_count=user_count)
    must_delete = user_count - new_seats
    candidates = sorted(users, key=deletion_candidate_order)[:must_delete]
    return GuardResult(
        Verdict.BLOCKED,
        user_count=user_count,
        must_delete=must_delete,
        blocking_users=candidates,
    )


async def read_users(
    platform: Platform, deadline_s: float
) -> tuple[list[PlatformUser] | None, str | None]:
    """The complete user list within ``deadline_s`` seconds, or ``None`` and an owner-facing
    reason. Never raises for a platform failure (it fails closed into the reason)."""
    try:
        async with asyncio.timeout(deadline_s):
            return await platform.list_users(), None
    except TimeoutError:
        return None, (
            f"{platform.label} did not answer in {deadline_s:g} s; nothing was changed; try again."
        )
    except PlatformError as exc:
        return None, exc.user_message
    except Exception:
        # Fail closed on anything unforeseen, but keep the details for the operator's log.
        logger.exception("Unexpected failure while listing %s users", platform.label)
        return None, (
            f"Seatbot could not read the users on {platform.label} because of an internal "
            "error; nothing was changed; try again later."
        )
