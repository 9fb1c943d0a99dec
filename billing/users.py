"""Users that exist on a platform, and what a listing of them told us: the facts the decrease
rule decides with.

The platform clients (``platforms``) produce these and the rules in ``billing`` consume them, so
they are defined once, here; this module imports only the standard library.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime


class Level(enum.StrEnum):
    """A user's level on the platform (the import file's ``Level_ID`` 2, 3, 4)."""

    ADMIN = "admin"
    MANAGER = "manager"
    AGENT = "agent"


class UserStatus(enum.StrEnum):
    """Whether the user is active. An inactive user still holds a seat."""

    ACTIVE = "active"
    INACTIVE = "inactive"


@dataclass(frozen=True, slots=True)
class PlatformUser:
    """One user that exists on a platform, and so holds one seat (one extension).

    ``created_at`` and ``last_active_at`` are timezone-aware UTC, or ``None`` when the source
    does not say (the import file never does; ``last_active_at`` is ``None`` for a user who
    never signed in).
    """

    platform_id: str
    email: str
    name: str
    extension: int
    level: Level
    status: UserStatus
    created_at: datetime | None = None
    last_active_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class UserListing:
    """What one attempt to list a platform's users found: the complete list, or why there is none.

    ``users`` is every user that exists (never a partial list); when it is ``None``, ``problem``
    is an owner-facing sentence saying why the platform could not be read (it fails closed: a
    decision made on this listing treats the users as unknown, never as "fewer").
    """

    users: tuple[PlatformUser, ...] | None
    problem: str | None = None

    def __post_init__(self) -> None:
        if (self.users is None) == (self.problem is None):
            raise ValueError("a listing has either users or a problem, not both or neither")

    @classmethod
    def complete(cls, users: Iterable[PlatformUser]) -> UserListing:
        """Every user that exists."""
        return cls(tuple(users))

    @classmethod
    def unknown(cls, problem: str) -> UserListing:
        """The platform could not be read completely; ``problem`` says why, for the owner."""
        return cls(None, problem)

    @property
    def known(self) -> bool:
        return self.users is not None

    @property
    def count(self) -> int | None:
        """How many users exist (= seats held), or ``None`` when unknown."""
        return None if self.users is None else len(self.users)
