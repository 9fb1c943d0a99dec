"""Sending requests to one platform host: the httpx client, the per-host bound and retries.

:func:`open_client` builds the client (explicit timeouts, no redirects, a borrowed transport so
many clients share one connection pool). :class:`RequestSender` sends a GET under the host's
semaphore (:class:`platforms.connection.HostLimits`) and retries connection errors, timeouts,
5xx and 429 with tenacity: jittered exponential backoff, except that ``Retry-After`` is obeyed
exactly, and one longer than the policy's cap is not waited for at all.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping

import httpx
import tenacity

from platforms.connection import HostLimits, RetryPolicy, Timeouts
from platforms.http_failures import (
    RetryableStatus,
    Unauthorized,
    UnexpectedStatus,
    raise_for_status,
)
from platforms.telemetry import NO_OBSERVER, RequestObserver

logger = logging.getLogger(__name__)

#: What retries wait with: ``await sleep(seconds)`` (tests inject a recorder).
Sleep = Callable[[float], Awaitable[None]]
#: Monotonic seconds, for token expiry.
Clock = Callable[[], float]


class BorrowedTransport(httpx.AsyncBaseTransport):
    """Lends a caller-owned transport to a client without letting the client close it, so many
    clients can share one connection pool (the composition root closes it once)."""

    def __init__(self, transport: httpx.AsyncBaseTransport) -> None:
        self._transport = transport

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self._transport.handle_async_request(request)

    async def aclose(self) -> None:
        """Do nothing: the owner of the transport closes it."""


def open_client(
    base_url: httpx.URL,
    *,
    transport: httpx.AsyncBaseTransport | None,
    timeouts: Timeouts,
    auth: httpx.Auth,
) -> httpx.AsyncClient:
    """An ``AsyncClient`` for one platform: ``transport`` is borrowed when given (else the client
    opens its own), ``auth`` adds the credentials to every request."""
    return httpx.AsyncClient(
        base_url=base_url,
        auth=auth,
        transport=BorrowedTransport(transport)
        if transport is not None
        else httpx.AsyncHTTPTransport(),
        timeout=httpx.Timeout(timeouts.read_s, connect=timeouts.connect_s),
        headers={"Accept": "application/json", "User-Agent": "seatbot"},
        follow_redirects=False,
    )


class RequestSender:
    """Sends GET requests to one host, bounded and retried as ``policy`` says.

    ``label`` (the product's name) and ``host`` are all a retry log line carries: never headers,
    bodies or URLs with queries. ``observer`` is told about every attempt and every retry,
    under ``product`` (the product's value, ``axiom``).
    """

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        label: str,
        host: str,
        policy: RetryPolicy,
        limits: HostLimits,
        sleep: Sleep,
        product: str = "",
        observer: RequestObserver = NO_OBSERVER,
    ) -> None:
        self._client = client
        self._product = product or label.lower()
        self._observer = observer
        self._label = label
        self._host = host
        self._policy = policy
        self._limits = limits
        self._sleep = sleep
        self._backoff = tenacity.wait_random_exponential(
            multiplier=policy.backoff_initial_s, max=policy.backoff_max_s
        )

    async def get(self, path: str, *, params: Mapping[str, int]) -> httpx.Response:
        """A successful response to ``GET path?params``, after at most ``max_attempts`` tries.

        Raises the :mod:`platforms.http_failures` signals or httpx's transport errors.
        """
        retrying = tenacity.AsyncRetrying(
            stop=tenacity.stop_after_attempt(self._policy.max_attempts),
            wait=self._wait_before_retry,
            retry=tenacity.retry_if_exception(self._should_retry),
            sleep=self._sleep,
            before_sleep=self._log_retry,
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                return await self._send_once(path, params)
        raise AssertionError("unreachable: tenacity returns or re-raises")

    async def _send_once(self, path: str, params: Mapping[str, int]) -> httpx.Response:
        # The auth flow runs inside this call (a token exchange included), under the same bound.
        async with self._limits.semaphore(self._host):
            started = time.perf_counter()
            try:
                response = await self._client.get(path, params=params)
                raise_for_status(response)
            except BaseException as error:
                self._observer.request_finished(
                    self._product, attempt_outcome(error), time.perf_counter() - started
                )
                raise
        self._observer.request_finished(self._product, "ok", time.perf_counter() - started)
        return response

    def _should_retry(self, exc: BaseException) -> bool:
        if isinstance(exc, httpx.TransportError):
            return True
        if isinstance(exc, RetryableStatus):
            cap = self._policy.retry_after_cap_s
            return exc.retry_after_s is None or exc.retry_after_s <= cap
        return False

    def _wait_before_retry(self, retry_state: tenacity.RetryCallState) -> float:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        if isinstance(exc, RetryableStatus) and exc.retry_after_s is not None:
            return exc.retry_after_s
        return float(self._backoff(retry_state))

    def _log_retry(self, retry_state: tenacity.RetryCallState) -> None:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        reason = f"status {exc.status}" if isinstance(exc, RetryableStatus) else type(exc).__name__
        wait = retry_state.next_action.sleep if retry_state.next_action else 0.0
        if exc is not None:
            self._observer.retrying(self._product, attempt_outcome(exc))
        logger.warning(
            "%s at %s: %s on attempt %d; retrying in %.2f s",
            self._label,
            self._host,
            reason,
            retry_state.attempt_number,
            wait,
        )


def attempt_outcome(error: BaseException) -> str:
    """A short label for how an HTTP attempt failed (for a :class:`RequestObserver`)."""
    if isinstance(error, RetryableStatus):
        return "status_429" if error.status == 429 else "status_5xx"
    if isinstance(error, Unauthorized | UnexpectedStatus):
        return "status_4xx"
    if isinstance(error, httpx.TimeoutException):
        return "timeout"
    if isinstance(error, httpx.TransportError):
        return "transport_error"
    return "cancelled" if not isinstance(error, Exception) else "error"
