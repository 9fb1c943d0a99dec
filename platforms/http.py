"""HTTP clients for the Contact Center, Axiom and Matrix user APIs.

What each client assumes about the (unpublished) API is written down in ``platforms/README.md``.
All three share :class:`HttpPlatform`: page-number pagination followed to the end, timeouts, an
overall deadline per listing, retries with jittered exponential backoff (tenacity) that honour
``Retry-After``, and a per-host concurrency bound. Vendor failures become the
:mod:`platforms.errors` tree in exactly one place, :meth:`HttpPlatform._translate_errors`.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import logging
import math
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar, TypeVar

import httpx
import tenacity

from platforms.connection import (
    TOKEN_PATH_KEY,
    USERS_PATH_KEY,
    HostLimits,
    PlatformConnection,
)
from platforms.errors import (
    PlatformAuthError,
    PlatformConfigError,
    PlatformDataError,
    PlatformError,
    PlatformRateLimited,
    PlatformUnavailable,
)
from platforms.types import Level, PlatformUser, Product, UserStatus

logger = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]
Clock = Callable[[], float]
_Code = TypeVar("_Code", Level, UserStatus)

#: A server that keeps returning full pages is not trusted past this many pages.
MAX_PAGES = 10_000

_LEVELS_BY_CODE: Mapping[object, Level] = {
    "admin": Level.ADMIN,
    "manager": Level.MANAGER,
    "agent": Level.AGENT,
    # The import file's Level_ID codes, which the API may use too.
    2: Level.ADMIN,
    3: Level.MANAGER,
    4: Level.AGENT,
}
_STATUSES_BY_CODE: Mapping[object, UserStatus] = {
    "active": UserStatus.ACTIVE,
    "inactive": UserStatus.INACTIVE,
    1: UserStatus.ACTIVE,
    0: UserStatus.INACTIVE,
}


# Internal failure signals. They never leave this module: _translate_errors turns each into a
# PlatformError with an owner-facing message.
class _RetryableStatus(Exception):
    def __init__(self, status: int, retry_after_s: float | None) -> None:
        super().__init__(status)
        self.status = status
        self.retry_after_s = retry_after_s


class _Unauthorized(Exception):
    """401: the token is missing, wrong or expired."""


class _Forbidden(Exception):
    """403: the credentials are valid but may not list users."""


class _UnexpectedStatus(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


class _UntrustedPayload(Exception):
    """The answer cannot be trusted; the message names the problem, never the data."""


class _BorrowedTransport(httpx.AsyncBaseTransport):
    """Lends a caller-owned transport to a client without letting the client close it, so many
    clients can share one connection pool (the composition root closes it once)."""

    def __init__(self, transport: httpx.AsyncBaseTransport) -> None:
        self._transport = transport

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self._transport.handle_async_request(request)

    async def aclose(self) -> None:
        """Do nothing: the owner of the transport closes it."""


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait according to a ``Retry-After`` header (delta-seconds or an HTTP date).

    Returns ``None`` when the header is absent or unreadable, and never a negative number.
    ``now`` (UTC) is only used for the HTTP-date form.
    """
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


@dataclass(frozen=True, slots=True)
class _Page:
    items: list[Any]
    per_page: int
    total: int | None


class HttpPlatform:
    """Lists users over HTTP; subclasses supply the ``Authorization`` header.

    ``transport`` is the httpx transport to use (a ``MockTransport`` or ``ASGITransport`` in
    tests); when given it is borrowed, not closed. ``sleep`` is what retries wait with (tests
    inject a recorder). ``clock`` is monotonic seconds, used for token expiry.
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
    ) -> None:
        if connection.product is not self.product:
            raise PlatformConfigError(
                f"This connection is for {connection.product.label}, not {self.product.label}.",
                product_label=self.product.label,
            )
        if not connection.base_url:
            raise PlatformConfigError(
                f"The {self.label} connection has no base URL; ask the operator to set it.",
                product_label=self.label,
            )
        base_url = httpx.URL(connection.base_url)
        if base_url.userinfo:
            # httpx would log the URL with every request; credentials do not belong in it.
            raise PlatformConfigError(
                f"The {self.label} base URL must not contain credentials; "
                "put them in the connection's key or token instead.",
                product_label=self.label,
            )
        self._connection = connection
        self._limits = limits or HostLimits()
        self._host = base_url.netloc.decode("ascii")
        self._sleep = sleep
        self._clock = clock
        self._backoff = tenacity.wait_random_exponential(
            multiplier=connection.retry.backoff_initial_s, max=connection.retry.backoff_max_s
        )
        timeouts = connection.timeouts
        self._client = httpx.AsyncClient(
            base_url=base_url,
            transport=_BorrowedTransport(transport)
            if transport is not None
            else httpx.AsyncHTTPTransport(),
            timeout=httpx.Timeout(timeouts.read_s, connect=timeouts.connect_s),
            headers={"Accept": "application/json", "User-Agent": "seatbot"},
            follow_redirects=False,
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
        with self._translate_errors():
            async with asyncio.timeout(self._connection.timeouts.listing_deadline_s):
                return await self._list_all_pages()

    # --- authentication (overridden by subclasses) -------------------------------------------

    async def _authorization(self) -> str:
        """The raw ``Authorization`` header value."""
        raise NotImplementedError

    async def _forget_token(self) -> bool:
        """Drop a cached token after a 401; return True when a retry with a new one makes sense."""
        return False

    # --- listing -----------------------------------------------------------------------------

    async def _list_all_pages(self) -> list[PlatformUser]:
        users: list[PlatformUser] = []
        seen_ids: set[str] = set()
        first_total: int | None = None
        path = self._connection.path(USERS_PATH_KEY)
        for page_number in range(1, MAX_PAGES + 1):
            params = {"page": page_number, "perPage": self._connection.page_size}
            body = await self._get_authorized_json(path, params)
            page = _parse_page(body, page_number, self._connection.page_size)
            if page_number == 1:
                first_total = page.total
            elif page.total != first_total:
                raise _UntrustedPayload("the user count changed while it was being read")
            for item in page.items:
                user = _parse_user(item)
                if user.platform_id in seen_ids:
                    raise _UntrustedPayload("the same user appeared twice across pages")
                seen_ids.add(user.platform_id)
                users.append(user)
            if len(page.items) < page.per_page:
                break
        else:
            raise _UntrustedPayload(f"the listing did not end after {MAX_PAGES} pages")
        if first_total is not None and len(users) != first_total:
            # A short page before the end looks like the last page; the total gives it away.
            raise _UntrustedPayload(
                f"the listing stopped after {len(users)} of {first_total} users"
            )
        return users

    async def _get_authorized_json(self, path: str, params: Mapping[str, int]) -> Any:
        """GET with the current token; on a 401, refresh the token once and try again."""
        for already_refreshed in (False, True):
            # The token is fetched outside the request's retry loop: the exchange has retries
            # of its own, and nesting them would multiply the attempts.
            authorization = await self._authorization()
            try:
                response = await self._send_with_retries(
                    "GET", path, params=params, authorization=authorization
                )
            except _Unauthorized:
                if already_refreshed or not await self._forget_token():
                    raise
                continue
            return _decode_json(response)
        raise AssertionError("unreachable: the loop returns or raises")

    async def _send_with_retries(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, int] | None = None,
        json_body: Mapping[str, str] | None = None,
        authorization: str | None,
    ) -> httpx.Response:
        retrying = tenacity.AsyncRetrying(
            stop=tenacity.stop_after_attempt(self._connection.retry.max_attempts),
            wait=self._wait_before_retry,
            retry=tenacity.retry_if_exception(self._should_retry),
            sleep=self._sleep,
            before_sleep=self._log_retry,
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                return await self._send_once(
                    method, path, params=params, json_body=json_body, authorization=authorization
                )
        raise AssertionError("unreachable: tenacity returns or re-raises")

    async def _send_once(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, int] | None,
        json_body: Mapping[str, str] | None,
        authorization: str | None,
    ) -> httpx.Response:
        headers = {"Authorization": authorization} if authorization is not None else {}
        async with self._limits.semaphore(self._host):
            response = await self._client.request(
                method, path, params=params, json=json_body, headers=headers
            )
        status = response.status_code
        if status < 300:
            return response
        if status == 401:
            raise _Unauthorized
        if status == 403:
            raise _Forbidden
        if status == 429 or status >= 500:
            raise _RetryableStatus(status, parse_retry_after(response.headers.get("Retry-After")))
        raise _UnexpectedStatus(status)

    def _should_retry(self, exc: BaseException) -> bool:
        if isinstance(exc, httpx.TransportError):
            return True
        if isinstance(exc, _RetryableStatus):
            cap = self._connection.retry.retry_after_cap_s
            return exc.retry_after_s is None or exc.retry_after_s <= cap
        return False

    def _wait_before_retry(self, retry_state: tenacity.RetryCallState) -> float:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        if isinstance(exc, _RetryableStatus) and exc.retry_after_s is not None:
            return exc.retry_after_s
        return float(self._backoff(retry_state))

    def _log_retry(self, retry_state: tenacity.RetryCallState) -> None:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        reason = f"status {exc.status}" if isinstance(exc, _RetryableStatus) else type(exc).__name__
        wait = retry_state.next_action.sleep if retry_state.next_action else 0.0
        # Only the product, host and failure kind: never headers, bodies or URLs with queries.
        logger.warning(
            "%s at %s: %s on attempt %d; retrying in %.2f s",
            self.label,
            self._host,
            reason,
            retry_state.attempt_number,
            wait,
        )

    # --- the one place where failures become PlatformErrors ----------------------------------

    @contextlib.contextmanager
    def _translate_errors(self) -> Iterator[None]:
        label = self.label
        attempts = self._connection.retry.max_attempts
        try:
            yield
        except PlatformError:
            raise
        except TimeoutError:
            deadline = self._connection.timeouts.listing_deadline_s
            raise PlatformUnavailable(
                f"{label} did not answer in {deadline:g} s; nothing was changed; try again.",
                product_label=label,
            ) from None
        except httpx.TimeoutException:
            raise PlatformUnavailable(
                f"{label} did not answer in time ({attempts} tries); nothing was changed; "
                "try again.",
                product_label=label,
            ) from None
        except httpx.TransportError:
            raise PlatformUnavailable(
                f"Seatbot could not reach {label} ({attempts} tries); nothing was changed; "
                "try again in a few minutes.",
                product_label=label,
            ) from None
        except _RetryableStatus as exc:
            if exc.status == 429:
                wait = exc.retry_after_s
                when = f"in {math.ceil(wait)} s" if wait is not None else "in a minute"
                raise PlatformRateLimited(
                    f"{label} is limiting Seatbot's requests; nothing was changed; "
                    f"try again {when}.",
                    product_label=label,
                    retry_after_s=wait,
                ) from None
            raise PlatformUnavailable(
                f"{label} had a server error ({exc.status}, {attempts} tries); nothing was "
                "changed; try again later.",
                product_label=label,
            ) from None
        except (_Unauthorized, _Forbidden):
            raise PlatformAuthError(
                f"{label} refused Seatbot's credentials; nothing was changed; ask the operator "
                f"to check the {label} connection.",
                product_label=label,
            ) from None
        except _UnexpectedStatus as exc:
            raise PlatformDataError(
                f"{label} answered with an unexpected status ({exc.status}); nothing was "
                f"changed; ask the operator to check the {label} connection's URL.",
                product_label=label,
            ) from None
        except _UntrustedPayload as exc:
            raise PlatformDataError(
                f"{label} sent a user list Seatbot cannot trust ({exc}); nothing was changed; "
                "try again.",
                product_label=label,
            ) from None


class StaticTokenPlatform(HttpPlatform):
    """A platform that takes a static API token, sent raw in ``Authorization``."""

    def __init__(self, connection: PlatformConnection, **kwargs: Any) -> None:
        super().__init__(connection, **kwargs)
        if not connection.token:
            raise PlatformConfigError(
                f"The {self.label} connection has no API token; ask the operator to set it.",
                product_label=self.label,
            )
        self._token = connection.token

    async def _authorization(self) -> str:
        return self._token


class ContactCenterPlatform(StaticTokenPlatform):
    """Squaretalk Contact Center's user API."""

    product = Product.CONTACT_CENTER


class MatrixPlatform(StaticTokenPlatform):
    """Squaretalk Matrix's user API."""

    product = Product.MATRIX


class AxiomPlatform(HttpPlatform):
    """Axiom's user API: the API key and admin login email are exchanged for an access token
    (valid 3 hours), sent raw in ``Authorization``; refreshed before expiry and once on 401."""

    product = Product.AXIOM
    #: Lifetime assumed when the token response does not say (Axiom documents 3 hours).
    DEFAULT_TOKEN_LIFETIME_S: ClassVar[float] = 3 * 60 * 60
    #: Refresh this long before expiry, so that a token never dies in the middle of a listing.
    REFRESH_MARGIN_S: ClassVar[float] = 5 * 60

    def __init__(self, connection: PlatformConnection, **kwargs: Any) -> None:
        super().__init__(connection, **kwargs)
        if not connection.api_key or not connection.login_email:
            raise PlatformConfigError(
                "The Axiom connection needs both an API key and the admin's login email; "
                "ask the operator to set them.",
                product_label=self.label,
            )
        self._api_key = connection.api_key
        self._login_email = connection.login_email
        self._access_token: str | None = None
        self._token_expires_at = 0.0
        self._token_lock = asyncio.Lock()

    async def _authorization(self) -> str:
        async with self._token_lock:
            margin = min(self.REFRESH_MARGIN_S, self.DEFAULT_TOKEN_LIFETIME_S / 10)
            if self._access_token is None or self._clock() >= self._token_expires_at - margin:
                self._access_token = await self._exchange_token()
            return self._access_token

    async def _forget_token(self) -> bool:
        self._access_token = None
        return True

    async def _exchange_token(self) -> str:
        response = await self._send_with_retries(
            "POST",
            self._connection.path(TOKEN_PATH_KEY),
            json_body={"apiKey": self._api_key, "email": self._login_email},
            authorization=None,
        )
        body = _decode_json(response)
        if not isinstance(body, dict):
            raise _UntrustedPayload("the token answer is not an object")
        token = body.get("accessToken")
        lifetime = body.get("expiresIn", self.DEFAULT_TOKEN_LIFETIME_S)
        if not isinstance(token, str) or not token:
            raise _UntrustedPayload("the token answer has no access token")
        if isinstance(lifetime, bool) or not isinstance(lifetime, int | float) or lifetime <= 0:
            raise _UntrustedPayload("the token answer has an invalid lifetime")
        self._token_expires_at = self._clock() + float(lifetime)
        return token


# --- payload parsing: raw vendor JSON stops here ---------------------------------------------


def _decode_json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:  # json.JSONDecodeError and UnicodeDecodeError are both ValueErrors
        raise _UntrustedPayload("an answer was not valid JSON") from None


def _parse_page(body: Any, requested_page: int, requested_size: int) -> _Page:
    if not isinstance(body, dict):
        raise _UntrustedPayload(f"page {requested_page} is not an object")
    items = body.get("data")
    if not isinstance(items, list):
        raise _UntrustedPayload(f"page {requested_page} has no user list")
    echoed_page = body.get("page", requested_page)
    if echoed_page != requested_page:
        raise _UntrustedPayload(f"asked for page {requested_page}, got page {echoed_page}")
    # A server may cap the page size; the echoed size, when present, is what "short" means.
    per_page = body.get("perPage", requested_size)
    total = body.get("total")
    if not isinstance(per_page, int) or not _is_count(per_page) or per_page < 1:
        raise _UntrustedPayload(f"page {requested_page} has no valid page size")
    if total is not None and not _is_count(total):
        raise _UntrustedPayload(f"page {requested_page} has an invalid total")
    return _Page(items=items, per_page=per_page, total=total)


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _parse_user(item: Any) -> PlatformUser:
    if not isinstance(item, dict):
        raise _UntrustedPayload("a user entry is not an object")
    raw_id = item.get("id")
    if isinstance(raw_id, bool) or not isinstance(raw_id, str | int) or raw_id == "":
        raise _UntrustedPayload("a user has no id")
    email_address = item.get("email")
    if not isinstance(email_address, str) or "@" not in email_address:
        raise _UntrustedPayload("a user has no valid email")
    name = item.get("name") or ""
    if not isinstance(name, str):
        raise _UntrustedPayload("a user's name is not text")
    return PlatformUser(
        platform_id=str(raw_id),
        email=email_address,
        name=name,
        extension=_parse_extension(item.get("extension")),
        level=_parse_code(item.get("level"), _LEVELS_BY_CODE, "level"),
        status=_parse_code(item.get("status"), _STATUSES_BY_CODE, "status"),
        created_at=_parse_instant(item.get("createdAt"), "createdAt"),
        last_active_at=_parse_instant(item.get("lastActiveAt"), "lastActiveAt"),
    )


def _parse_extension(value: object) -> int:
    if isinstance(value, str) and value.isdigit():
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    raise _UntrustedPayload("a user has no valid extension number")


def _parse_code(value: object, table: Mapping[object, _Code], field_name: str) -> _Code:
    key: object = value.strip().lower() if isinstance(value, str) else value
    if isinstance(key, bool) or key not in table:
        raise _UntrustedPayload(f"a user has an unknown {field_name}")
    return table[key]


def _parse_instant(value: object, field_name: str) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise _UntrustedPayload(f"a user's {field_name} is not a date")
    try:
        instant = datetime.fromisoformat(value)
    except ValueError:
        raise _UntrustedPayload(f"a user's {field_name} is not an ISO 8601 date") from None
    # A naive time is taken as UTC (documented in platforms/README.md).
    return instant.replace(tzinfo=UTC) if instant.tzinfo is None else instant.astimezone(UTC)
