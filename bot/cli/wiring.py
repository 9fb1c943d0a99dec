"""Wiring for the CLI: the platform facts that ``seatbot quote`` and ``seatbot users`` need.

The billing and platforms command modules take these as callables; this module imports
neither of them. It is where the database, the platform directory and the guard meet.
"""

from __future__ import annotations

import asyncio

from billing.books import SeatService
from billing.errors import InvalidInput
from billing.products import Product, parse_product
from billing.seats import UsersNeeded
from billing.users import UserListing
from bot.cli import shell
from bot.cli.errors import no_account_message, no_subscription_message, not_a_product_message
from bot.runtime.platform_directory import PlatformDirectory
from platforms import Platform
from platforms.guard import read_listing

#: How long the CLI waits for a platform before calling the answer unknown.
CLI_PLATFORM_DEADLINE_S = 10.0


def _platform_for(account_id: int, product: Product) -> Platform | None:
    with shell.sessions() as sessions:
        return PlatformDirectory(sessions).platform_for(account_id, product)


def platform_users(needed: UsersNeeded) -> UserListing:
    """The platform's users for ``seatbot quote`` (the port billing's quote asks once for a
    decrease); an unreadable platform gives an unknown listing (fails closed). Raises the
    connection's :class:`billing.errors.ConfigurationError`: a connection or keys the operator
    must fix is bad input (exit 2), as for `seatbot users`."""
    platform = _platform_for(needed.account_id, needed.product)

    async def read() -> UserListing:
        try:
            return await read_listing(platform, needed.product, CLI_PLATFORM_DEADLINE_S)
        finally:
            if platform is not None:
                await platform.aclose()

    return asyncio.run(read())


def users_lookup(account_name: str, product_name: str) -> tuple[Platform | None, int]:
    """``seatbot users ACCOUNT PRODUCT``: the account's platform and its billed seats.

    Raises :class:`billing.errors.InvalidInput` with the CLI's wording for an unknown account
    or product, and the connection's :class:`billing.errors.ConfigurationError`."""
    product = parse_product(product_name)
    if product is None:
        raise InvalidInput(not_a_product_message(product_name))
    with shell.sessions() as sessions:
        service = SeatService(sessions)
        account = service.account_by_name(account_name)
        if account is None:
            raise InvalidInput(no_account_message(account_name))
        subscription = next(
            (s for s in service.subscriptions(account.id, shell.utc_now()) if s.product is product),
            None,
        )
        if subscription is None:
            raise InvalidInput(no_subscription_message(account.name, product))
        platform = PlatformDirectory(sessions).platform_for(account.id, product)
        return platform, subscription.seats
