"""What exists on the Squaretalk platforms: one ``Platform`` protocol, HTTP clients for Contact
Center, Axiom and Matrix, an import-file source, the reading of user listings, and a sandbox server.

Imports only the standard library, httpx, tenacity, openpyxl and charset-normalizer: never Slack
or the database.
"""

from platforms.connection import HostLimits, PlatformConnection, RetryPolicy, Timeouts
from platforms.errors import (
    PlatformAuthError,
    PlatformDataError,
    PlatformError,
    PlatformRateLimited,
    PlatformUnavailable,
)
from platforms.factory import build_platform
from platforms.guard import not_connected, read_listing
from platforms.types import Level, Platform, PlatformUser, Product, UserListing, UserStatus

__all__ = [
    "HostLimits",
    "Level",
    "Platform",
    "PlatformAuthError",
    "PlatformConnection",
    "PlatformDataError",
    "PlatformError",
    "PlatformRateLimited",
    "PlatformUnavailable",
    "PlatformUser",
    "Product",
    "RetryPolicy",
    "Timeouts",
    "UserListing",
    "UserStatus",
    "build_platform",
    "not_connected",
    "read_listing",
]
