"""What exists on the Squaretalk platforms: one ``Platform`` protocol, HTTP clients for Contact
Center, Axiom and Matrix, an import-file source, the reading of user listings, and a sandbox server.

Imports only the standard library, httpx, tenacity, openpyxl and charset-normalizer: never Slack
or the database. Like billing's packages (:mod:`billing.faces`), this face names what it offers
once, as the re-exporting imports below, and loads each name's module when it is first asked
for: importing ``platforms.sandbox`` does not load httpx or openpyxl.
"""

from typing import TYPE_CHECKING

from billing.faces import face

if TYPE_CHECKING:
    from platforms.connection import HostLimits as HostLimits
    from platforms.connection import PlatformConnection as PlatformConnection
    from platforms.connection import RetryPolicy as RetryPolicy
    from platforms.connection import Timeouts as Timeouts
    from platforms.errors import PlatformAuthError as PlatformAuthError
    from platforms.errors import PlatformDataError as PlatformDataError
    from platforms.errors import PlatformError as PlatformError
    from platforms.errors import PlatformRateLimited as PlatformRateLimited
    from platforms.errors import PlatformUnavailable as PlatformUnavailable
    from platforms.factory import build_platform as build_platform
    from platforms.guard import not_connected as not_connected
    from platforms.guard import read_listing as read_listing
    from platforms.types import Level as Level
    from platforms.types import Platform as Platform
    from platforms.types import PlatformUser as PlatformUser
    from platforms.types import Product as Product
    from platforms.types import UserListing as UserListing
    from platforms.types import UserStatus as UserStatus

__getattr__ = face(__name__, __file__)
