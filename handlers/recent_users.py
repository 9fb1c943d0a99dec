"""Recently listed platform users, for display only.

``/seats status`` shows how many users each platform has. Listing them costs a round trip per
page per product, and a channel full of people asking for the status at once would list the same
users many times over. This keeps each successful listing for a short while (per process) and
lets concurrent requests for the same account and product share one listing in flight.

It is never consulted for a decision: a decrease always lists the users afresh (the guard), so a
stale count here can only make a status line a few seconds old, never move money.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable

from billing.users import UserListing

DEFAULT_TTL_S = 30.0


class RecentUsers:
    """Successful listings kept for ``ttl_s`` seconds (monotonic clock); failures are not kept."""

    def __init__(
        self, ttl_s: float = DEFAULT_TTL_S, *, clock: Callable[[], float] = time.monotonic
    ):
        self._ttl_s = ttl_s
        self._clock = clock
        self._fresh: dict[Hashable, tuple[float, UserListing]] = {}
        self._in_flight: dict[Hashable, asyncio.Task[UserListing]] = {}

    async def get(
        self, key: Hashable, list_users: Callable[[], Awaitable[UserListing]]
    ) -> UserListing:
        """The users for ``key``: a listing under the TTL old, the one in flight, or a new one."""
        kept = self._fresh.get(key)
        if kept is not None and self._clock() - kept[0] < self._ttl_s:
            return kept[1]
        task = self._in_flight.get(key)
        if task is None:
            task = asyncio.ensure_future(self._list_and_keep(key, list_users))
            self._in_flight[key] = task
        # Shielded: one caller giving up must not cancel the listing the others wait for.
        return await asyncio.shield(task)

    async def _list_and_keep(
        self, key: Hashable, list_users: Callable[[], Awaitable[UserListing]]
    ) -> UserListing:
        try:
            fact = await list_users()
        finally:
            self._in_flight.pop(key, None)
        if fact.known:
            self._fresh[key] = (self._clock(), fact)
        else:
            self._fresh.pop(key, None)
        return fact
