"""HTTP clients for the Contact Center, Axiom and Matrix user APIs.

What each client assumes about the (unpublished) API is written down in ``platforms/README.md``.
All three share :class:`HttpPlatform`, which puts the parts together:

- :mod:`platforms.http_auth`: the credentials, as an httpx auth flow per product;
- :mod:`platforms.http_requests`: the client, the per-host bound and the retries;
- :mod:`platforms.pagination` and :mod:`platforms.user_json`: the listing and its users;
- :mod:`platforms.http_failures`: the one place where failures become :class:`PlatformError`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Any, ClassVar, TypedDict

import httpx

from billing.errors import ConfigurationError
from platforms.connection import TOKEN_PATH_KEY, USERS_PATH_KEY, HostLimits, PlatformConnection
from platforms.http_auth import AxiomTokenAuth, StaticTokenAuth
from platforms.http_failures import decode_json, parse_retry_after, translate_errors
from platforms.http_requests import Clock, RequestSender, Sleep, open_client
from platforms.pagination import MAX_PAGES, read_user_pages
from platforms.telemetry import NO_OBSERVER, RequestObserver
from platforms.types import PlatformUser, Product

# Names that lived here before the split; importing them from here keeps working.
__all__ = [
    "MAX_PAGES",
    "AxiomPlatform",
    "ClientOptions",
    "Clock",
    "ContactCenterPlatform",
    "HttpPlatform",
    "MatrixPlatform",
    "Sleep",
    "StaticTokenPlatform",
    "parse_retry_after",
]


class ClientOptions(TypedDict, total=False):
    """How an :class:`HttpPlatform` reaches its platform, beyond the connection (each
    explained there); :func:`platforms.factory.build_platform` passes them on."""

    transport: httpx.AsyncBaseTransport | None
    limits: HostLimits | None
    sleep: Sleep
    clock: Clock
    observer: RequestObserver


class HttpPlatform:
    """Lists users over HTTP; subclasses supply the credentials as an ``httpx.Auth``.

    ``transport`` is the httpx transport to use (a ``MockTransport`` or ``ASGITransport`` in
    tests); when given it is borrowed, not closed. ``sleep`` is what retries wait with (tests
    inject a recorder). ``clock`` is monotonic seconds, used for token expiry. ``observer`` is
    told about every HTTP attempt and retry (:mod:`platforms.telemetry`). Raises
    :class:`billing.errors.ConfigurationError` when the connection lacks what the product needs.
    """

    product: ClassVar[Product]

    def __init__(
        self,
        connection: PlatformConnection,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        limits: HostLimits | None = None,
        sleep: Sleep = asyncio.sleep,
        clock: Clock = time.monotonic,
        observer: RequestObserver = NO_OBSERVER,
    ) -> None:
        if connection.product is not self.product:
            raise ConfigurationError(
                f"This connection is for {connection.product.label}, not {self.product.label}.",
            )
        if not connection.base_url:
            raise ConfigurationError(
                f"The {self.label} connection has no base URL; ask the operator to set it.",
            )
        base_url = httpx.URL(connection.base_url)
        if base_url.userinfo:
            # httpx would log the URL with every request; credentials do not belong in it.
            raise ConfigurationError(
                f"The {self.label} base URL must not contain credentials; "
                "put them in the connection's key or token instead.",
            )
        self._connection = connection
        auth = self._authentication(connection, clock)  # checks the credentials first
        self._client = open_client(
            base_url, transport=transport, timeouts=connection.timeouts, auth=auth
        )
        self._requests = RequestSender(
            self._client,
            label=self.label,
            host=base_url.netloc.decode("ascii"),
            policy=connection.retry,
            limits=limits or HostLimits(),
            sleep=sleep,
            product=self.product.value,
            observer=observer,
        )

    @property
    def label(self) -> str:
        """The product's owner-facing name."""
        return self.product.label

    async def aclose(self) -> None:
        """Close the HTTP client (a borrowed transport stays open)."""
        await self._client.aclose()

    async def list_users(self) -> list[PlatformUser]:
        """Every user on the platform, all pages, within the listing deadline.

        Raises :class:`PlatformError` subclasses; never returns a partial list.
        """
        deadline_s = self._connection.timeouts.listing_deadline_s
        attempts = self._connection.retry.max_attempts
        with translate_errors(self.label, attempts=attempts, deadline_s=deadline_s):
            async with asyncio.timeout(deadline_s):
                return await read_user_pages(self._fetch_page, self._connection.page_size)

    def _authentication(self, connection: PlatformConnection, clock: Clock) -> httpx.Auth:
        """The auth flow for this product; :class:`billing.errors.ConfigurationError` if
        credentials lack."""
        raise NotImplementedError

    async def _fetch_page(self, page_number: int) -> Any:
        params = {"page": page_number, "perPage": self._connection.page_size}
        response = await self._requests.get(self._connection.path(USERS_PATH_KEY), params=params)
        return decode_json(response)


class StaticTokenPlatform(HttpPlatform):
    """A platform that takes a static API token, sent raw in ``Authorization``."""

    def _authentication(self, connection: PlatformConnection, clock: Clock) -> httpx.Auth:
        if not connection.token:
            raise ConfigurationError(
                f"The {self.label} connection has no API token; ask the operator to set it.",
            )
        return StaticTokenAuth(connection.token)


class ContactCenterPlatform(StaticTokenPlatform):
    """Squaretalk Contact Center's user API."""

    product = Product.CONTACT_CENTER


class MatrixPlatform(StaticTokenPlatform):
    """Squaretalk Matrix's user API."""

    product = Product.MATRIX


class AxiomPlatform(HttpPlatform):
    """Axiom's user API: the API key and admin login email are exchanged for an access token
    (valid 3 hours), sent raw in ``Authorization``; refreshed before expiry and once on 401
    (see :class:`platforms.http_auth.AxiomTokenAuth`)."""

    product = Product.AXIOM

    def _authentication(self, connection: PlatformConnection, clock: Clock) -> httpx.Auth:
        if not connection.api_key or not connection.login_email:
            raise ConfigurationError(
                "The Axiom connection needs both an API key and the admin's login email; "
                "ask the operator to set them.",
            )
        return AxiomTokenAuth(
            api_key=connection.api_key,
            login_email=connection.login_email,
            token_request=self._token_request,
            clock=clock,
        )

    def _token_request(self, body: Mapping[str, str]) -> httpx.Request:
        # Built by the client, so it gets the base URL, default headers and timeouts; called
        # by the auth flow, after __init__ has opened the client.
        path = self._connection.path(TOKEN_PATH_KEY)
        return self._client.build_request("POST", path, json=body)
