"""How to reach one product for one account: connection settings, timeouts, retry policy, and
the per-host concurrency registry shared by every client in a process."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from billing.products import ConnectionKind
from platforms.types import Product

#: Path keys a connection may override; values are relative to ``base_url``.
USERS_PATH_KEY = "users"
TOKEN_PATH_KEY = "token"  # noqa: S105 - a dictionary key, not a secret
DEFAULT_PATHS: Mapping[str, str] = {
    USERS_PATH_KEY: "/api/v1/users",
    TOKEN_PATH_KEY: "/api/v1/auth/token",
}


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Time limits for talking to a platform, in seconds.

    ``connect_s`` and ``read_s`` bound each HTTP request; ``listing_deadline_s`` bounds one whole
    listing (every page, every retry and every wait included).
    """

    connect_s: float = 5.0
    read_s: float = 10.0
    listing_deadline_s: float = 30.0


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """When and how long to retry a request that failed for a reason that may clear.

    Retries happen on connection errors and timeouts, 5xx and 429. The wait is jittered
    exponential backoff (``backoff_initial_s`` doubled per attempt, at most ``backoff_max_s``,
    a uniformly random share of it), except that a ``Retry-After`` header is obeyed exactly.
    A ``Retry-After`` longer than ``retry_after_cap_s`` is not waited for: the request fails
    with :class:`platforms.errors.PlatformRateLimited` at once.
    """

    max_attempts: int = 4
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 8.0
    retry_after_cap_s: float = 30.0


@dataclass(frozen=True)
class PlatformConnection:
    """Everything needed to build a :class:`platforms.types.Platform` for one account and product.

    ``kind="api"`` needs ``base_url`` and credentials: Axiom an ``api_key`` plus the admin's
    ``login_email``; Contact Center and Matrix a static ``token``. ``kind="import_file"`` needs
    ``file_path`` (and ``file_encoding`` when a CSV file's encoding cannot be told). ``paths``
    overrides the default endpoint paths (see :data:`DEFAULT_PATHS`).
    Credentials are excluded from ``repr`` so that logging a connection leaks nothing.
    """

    product: Product
    kind: ConnectionKind = ConnectionKind.API
    base_url: str | None = None
    paths: Mapping[str, str] = field(default_factory=dict)
    api_key: str | None = field(default=None, repr=False)
    login_email: str | None = None
    token: str | None = field(default=None, repr=False)
    file_path: Path | None = None
    #: The user file's encoding, when its bytes cannot tell (``shift_jis``); ``None``: detected.
    file_encoding: str | None = None
    timeouts: Timeouts = field(default_factory=Timeouts)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    page_size: int = 100

    def path(self, key: str) -> str:
        """The endpoint path for ``key``: the override if set, else the documented default."""
        return self.paths.get(key, DEFAULT_PATHS[key])


class HostLimits:
    """Bounds how many requests are in flight to each platform host at once.

    Build one per process (in the composition root) and pass it to every client so that all
    accounts on the same host share the bound. Semaphores are kept per event loop, because an
    ``asyncio.Semaphore`` belongs to the loop that first waits on it.
    """

    def __init__(self, per_host: int = 8) -> None:
        if per_host < 1:
            raise ValueError("per_host must be at least 1")
        self.per_host = per_host
        self._by_loop: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, dict[str, asyncio.Semaphore]
        ] = weakref.WeakKeyDictionary()

    def semaphore(self, host: str) -> asyncio.Semaphore:
        """The semaphore guarding ``host`` (``"name:port"``) on the running event loop."""
        loop = asyncio.get_running_loop()
        per_loop = self._by_loop.setdefault(loop, {})
        semaphore = per_loop.get(host)
        if semaphore is None:
            semaphore = per_loop[host] = asyncio.Semaphore(self.per_host)
        return semaphore
