"""Gathering the facts billing decides with: the users that exist on a platform.

Handlers never choose whose users to list: they list exactly what a use case asked for with
:class:`billing.outcomes.UsersNeeded` (handed out only to an authorised caller). A listing for a
decision is always read afresh; ``/seats status`` may reuse a recent one (display only).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from billing.errors import UserFacingError
from billing.outcomes import UsersNeeded
from billing.users import UserListing
from handlers.recent_users import RecentUsers
from platforms.guard import read_listing
from platforms.types import Platform, Product

PlatformFor = Callable[[int, Product], "Platform | None"]


class PlatformFacts:
    """Lists users for the use cases. ``platform_for(account_id, product)`` reads the database
    (it runs in a worker thread); ``deadline_s`` bounds one complete listing."""

    def __init__(
        self, platform_for: PlatformFor, *, deadline_s: float, recent_ttl_s: float
    ) -> None:
        self._platform_for = platform_for
        self._deadline_s = deadline_s
        self._recent = RecentUsers(recent_ttl_s)

    async def listing(self, needed: UsersNeeded) -> UserListing:
        """Every user of ``needed.product`` for ``needed.account_id``, read now, or why not."""
        try:
            platform = await asyncio.to_thread(
                self._platform_for, needed.account_id, needed.product
            )
        except UserFacingError as exc:  # a misconfigured connection: the operator must fix it
            return UserListing.unknown(exc.message)
        try:
            return await read_listing(platform, needed.product, self._deadline_s)
        finally:
            if platform is not None:
                await platform.aclose()

    async def recent_listing(self, needed: UsersNeeded) -> UserListing:
        """Like :meth:`listing`, but a listing up to a few seconds old (and one in flight) is
        shared: for display only, never for a decision."""
        return await self._recent.get(
            (needed.account_id, needed.product), lambda: self.listing(needed)
        )
