"""Wiring for the CLI: the platform facts that ``seatbot quote`` and ``seatbot users`` need.

The billing and platforms command modules take these as callables, so neither imports the
other; this module is where the database, the platform directory and the guard meet.
"""

from __future__ import annotations

import asyncio

from billing.books.service import SeatService
from billing.errors import InvalidInput
from billing.products import Product, parse_product
from billing.seats.decrease import DecreaseVerdict, check_seat_change
from billing.views import AccountView, SubscriptionView
from bot.cli import shell
from bot.cli.billing import PlatformCheckResult
from bot.cli.errors import no_account_message, no_subscription_message, not_a_product_message
from bot.runtime.platform_directory import PlatformDirectory
from platforms import Platform
from platforms.guard import read_listing

#: How long the CLI waits for a platform before calling the answer unknown.
CLI_PLATFORM_DEADLINE_S = 10.0


def _platform_for(account_id: int, product: Product) -> Platform | None:
    with shell.sessions() as sessions:
        return PlatformDirectory(sessions).platform_for(account_id, product)


def platform_check(
    account: AccountView, subscription: SubscriptionView, new_seats: int
) -> PlatformCheckResult:
    """Run the decrease guard for ``seatbot quote``; fails closed with an owner-facing reason.

    Raises the connection's :class:`billing.errors.ConfigurationError`."""
    product = subscription.product
    # A connection or keys the operator must fix is bad input (exit 2), as for `seatbot users`.
    platform = _platform_for(account.id, product)

    async def check() -> PlatformCheckResult:
        try:
            listing = await read_listing(platform, product, CLI_PLATFORM_DEADLINE_S)
        finally:
            if platform is not None:
                await platform.aclose()
        result = check_seat_change(subscription.seats, new_seats, listing)
        if result.verdict is DecreaseVerdict.ALLOWED:
            return PlatformCheckResult(
                passed=True, detail=f"{result.user_count} users exist on {product.label}"
            )
        if result.verdict is DecreaseVerdict.BLOCKED:
            names = ", ".join(user.email for user in result.blocking_users[:10])
            more = len(result.blocking_users) - 10
            suffix = f" and {more} more" if more > 0 else ""
            return PlatformCheckResult(
                passed=False,
                detail=(
                    f"{result.user_count} users exist on {product.label}; delete "
                    f"{result.must_delete} there first (likeliest: {names}{suffix})"
                ),
            )
        return PlatformCheckResult(
            passed=False, detail=result.reason or "the platform could not be read", status="unknown"
        )

    return asyncio.run(check())


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
