"""What exists on the Squaretalk platforms: one ``Platform`` protocol, HTTP clients for Contact
Center, Axiom and Matrix, an import-file source, the decrease guard, and a sandbox server.

Imports only the standard library, httpx, tenacity and openpyxl: never Slack or the database.
"""

from platforms.connection import HostLimits, PlatformConnection, RetryPolicy, Timeouts
from platforms.errors import (
    PlatformAuthError,
    PlatformConfigError,
    PlatformDataError,
    PlatformError,
    PlatformRateLimited,
    PlatformUnavailable,
)
from platforms.factory import build_platform
from platforms.guard import GuardResult, Verdict, check_seat_change
from platforms.types import Level, Platform, PlatformUser, Product, UserStatus

__all__ = [
    "GuardResult",
    "HostLimits",
    "Level",
    "Platform",
    "PlatformAuthError",
    "PlatformConfigError",
    "PlatformConnection",
    "PlatformDataError",
    "PlatformError",
    "PlatformRateLimited",
    "PlatformUnavailable",
    "PlatformUser",
    "Product",
    "RetryPolicy",
    "Timeouts",
    "UserStatus",
    "Verdict",
    "build_platform",
    "check_seat_change",
]
