"""The vocabulary every platform source shares, and the ``Platform`` port.

Products and users are defined once, in ``billing.products`` and ``billing.users`` (the domain's
own vocabulary, standard library only), and re-exported here for the platform clients.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from billing.products import Product
from billing.users import Level, PlatformUser, UserListing, UserStatus

__all__ = ["Level", "Platform", "PlatformUser", "Product", "UserListing", "UserStatus"]


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
