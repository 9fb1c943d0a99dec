"""Reading the facts the decrease rule needs: the complete list of users on a platform.

The rule itself (``billing.seats.decrease``) decides; this module only asks the platform, within a
deadline, and fails closed into an owner-facing reason: a listing is complete or unknown, never
partial, and nothing a platform does makes this raise.
"""

from __future__ import annotations

import asyncio
import logging

from billing.errors import UserFacingError
from platforms.types import Platform, Product, UserListing

logger = logging.getLogger(__name__)


def not_connected(product: Product) -> UserListing:
    """The listing for a product with no platform connection configured."""
    return UserListing.unknown(
        f"No {product.label} connection is set up, so Seatbot cannot check which users exist; "
        "nothing was changed; ask the operator to connect it."
    )


async def read_listing(
    platform: Platform | None, product: Product, deadline_s: float
) -> UserListing:
    """Every user on ``platform`` within ``deadline_s`` seconds, or why not (never raises for a
    platform failure; ``None`` means no connection is configured)."""
    if platform is None:
        return not_connected(product)
    try:
        async with asyncio.timeout(deadline_s):
            return UserListing.complete(await platform.list_users())
    except TimeoutError:
        return UserListing.unknown(
            f"{platform.label} did not answer in {deadline_s:g} s; nothing was changed; try again."
        )
    except UserFacingError as exc:  # a platform error, or a connection the operator must fix
        return UserListing.unknown(exc.message)
    except Exception:
        # Fail closed on anything unforeseen, but keep the details for the operator's log.
        logger.exception("Unexpected failure while listing %s users", platform.label)
        return UserListing.unknown(
            f"Seatbot could not read the users on {platform.label} because of an internal "
            "error; nothing was changed; try again later."
        )
