"""Gathering the facts billing decides with: the users that exist on a platform.

Handlers never choose whose users to list: they list exactly what a use case asked for with
:class:`billing.seats.outcomes.UsersNeeded` (handed out only to an authorised caller). A listing for
a decision is always read afresh; ``/seats status`` may reuse a recent one (display only).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence

from billing.errors import UserFacingError
from billing.seats import UsersNeeded, UsersSource
from billing.users import UserListing
from handlers.recent_users import RecentUsers
from platforms.guard import read_listing
from platforms.types import Platform, Product

PlatformFor = Callable[[int, Product], "Platform | None"]
#: One account's platforms: each product's (``None``: not connected), or the owner-facing
#: error that says why its connection is unusable.
Found = Mapping[Product, "Platform | UserFacingError | None"]
#: ``platforms_for(account_ids, products)``: each account's :data:`Found`, from one read.
PlatformsFor = Callable[[Sequence[int], Sequence[Product]], Mapping[int, Found]]


class PlatformFacts:
    """Lists users for the use cases. ``platform_for(account_id, product)`` reads the database
    (it runs in a worker thread); ``deadline_s`` bounds one complete listing.
    ``platforms_for``, when given, finds several products of several accounts in one read (see
    :meth:`platforms` and :meth:`listings`)."""

    def __init__(
        self,
        platform_for: PlatformFor,
        *,
        deadline_s: float,
        recent_ttl_s: float,
        platforms_for: PlatformsFor | None = None,
    ) -> None:
        self._platform_for = platform_for
        self._platforms_for = platforms_for
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
        return await self._read(platform, needed.product)

    def port(self) -> UsersSource:
        """:meth:`listing` as the port a use case asks, once, from its worker thread (it runs
        under ``asyncio.to_thread``): the platform is found in that thread (a database read)
        and read on this event loop, which the waiting thread never blocks. Call it on the
        loop."""
        loop = asyncio.get_running_loop()

        def users(needed: UsersNeeded) -> UserListing:
            try:
                platform = self._platform_for(needed.account_id, needed.product)
            except UserFacingError as exc:  # a misconfigured connection: the operator must fix it
                return UserListing.unknown(exc.message)
            reading = self._read(platform, needed.product)
            return asyncio.run_coroutine_threadsafe(reading, loop).result()

        return users

    async def platforms(
        self, account_ids: Sequence[int], products: Sequence[Product]
    ) -> Mapping[int, Found]:
        """Each account's platforms for ``products`` from one database read, to hand to
        :meth:`listings` (a reconciliation finds a chunk of accounts at once). Empty without
        ``platforms_for``, and when that read fails: each account's own read then says why (or
        raises) for that account alone."""
        if self._platforms_for is None or not account_ids:
            return {}
        try:
            return await asyncio.to_thread(self._platforms_for, account_ids, products)
        except Exception:  # read again per account, where it is reported for that account
            return {}

    async def listings(
        self, needed: Sequence[UsersNeeded], found: Found | None = None
    ) -> list[UserListing]:
        """Like :meth:`listing` for each of ``needed`` (all of one account), read at once, in
        the order given, from the platforms ``found`` by :meth:`platforms`; without them they
        are found with one database read when the facts have ``platforms_for``."""
        if found is None:
            accounts = {n.account_id for n in needed}
            if self._platforms_for is None or len(accounts) != 1:
                return list(await asyncio.gather(*(self.listing(n) for n in needed)))
            account, products = accounts.pop(), [n.product for n in needed]
            try:
                found = (await asyncio.to_thread(self._platforms_for, [account], products))[account]
            except UserFacingError as exc:
                return [UserListing.unknown(exc.message) for _ in needed]

        async def one(product: Product) -> UserListing:
            platform = found.get(product)
            if isinstance(platform, UserFacingError):
                return UserListing.unknown(platform.message)
            return await self._read(platform, product)

        return list(await asyncio.gather(*(one(n.product) for n in needed)))

    async def _read(self, platform: Platform | None, product: Product) -> UserListing:
        try:
            return await read_listing(platform, product, self._deadline_s)
        finally:
            if platform is not None:
                await platform.aclose()

    async def recent_listing(self, needed: UsersNeeded) -> UserListing:
        """Like :meth:`listing`, but a listing up to a few seconds old (and one in flight) is
        shared: for display only, never for a decision."""
        return await self._recent.get(
            (needed.account_id, needed.product), lambda: self.listing(needed)
        )
