"""The vocabulary every platform source shares: products, users, and the ``Platform`` port."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable


class Product(enum.StrEnum):
    """The three Squaretalk products whose users hold paid seats."""

    CONTACT_CENTER = "contact_center"
    AXIOM = "axiom"
    MATRIX = "matrix"

    @property
    def label(self) -> str:
        """The product name as an account owner knows it, for messages."""
        return _PRODUCT_LABELS[self]


_PRODUCT_LABELS = {
    Product.CONTACT_CENTER: "Contact Center",
    Product.AXIOM: "Axiom",
    Product.MATRIX: "Matrix",
}


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


@runtime_checkable
class Platform(Protocol):
    """A source of facts about which users exist on one product for one account."""

    @property
    def product(self) -> Product:
        """Which product this source describes."""
        ...

    @property
    def label(self) -> str:
        """A short owner-facing name for messages, e.g. ``"Axiom"``."""
        ...

    async def list_users(self) -> list[PlatformUser]:
        """Return every user that exists, all pages followed to the end.

        Raises a :class:`platforms.errors.PlatformError` subclass when the complete list
        cannot be obtained; it never returns a partial list.
        """
        ...

    async def aclose(self) -> None:
        """Release connections. Safe to call more than once."""
        ...
