"""How each product authenticates, as httpx auth flows (``httpx.Auth``).

Contact Center and Matrix take a static API token; Axiom exchanges an API key and the admin's
login email for an access token valid 3 hours. Both send the token raw in ``Authorization`` (no
``Bearer``). A flow is a generator that yields the requests to send and receives their
responses (as httpx's own ``DigestAuth``): Axiom's yields the token exchange itself when it
needs a token, then the request, and on a 401 one exchange and the request again.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable, Generator, Mapping
from typing import ClassVar

import httpx

from platforms.http_failures import UntrustedPayload, decode_json, raise_for_status
from platforms.http_requests import Clock

#: ``token_request(body)`` → the exchange request (a POST of ``body`` as JSON to the token path).
TokenRequest = Callable[[Mapping[str, str]], httpx.Request]


class StaticTokenAuth(httpx.Auth):
    """A static API token sent raw in ``Authorization``; a 401 is final (nothing to refresh)."""

    def __init__(self, token: str) -> None:
        self._token = token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = self._token
        yield request


class AxiomTokenAuth(httpx.Auth):
    """Axiom's access token: exchanged when needed, cached, refreshed once after a 401.

    The exchange sends ``{"apiKey": KEY, "email": LOGIN_EMAIL}`` (see ``token_request``) and
    expects ``{"accessToken": "...", "expiresIn": SECONDS}`` (3 hours when absent). The token is
    reused until ``REFRESH_MARGIN_S`` before it expires, so it never dies in the middle of a
    listing. When a request is answered 401 the token is dropped, a new one is fetched (unless
    a concurrent request already did) and the request is sent once more; a second 401 is
    returned as it is. With ``httpx.AsyncClient`` the exchange is single-flight: concurrent
    requests that need a token wait for one exchange. ``clock`` is monotonic seconds.

    A failed exchange raises the :mod:`platforms.http_failures` signal for its status (or
    :class:`UntrustedPayload` for a malformed answer) out of the request, so the caller's one
    retry loop decides whether to try again: retries never nest.
    """

    # The flow reads the token answer's body (httpx reads it before sending it back in).
    requires_response_body = True

    #: Lifetime assumed when the token answer does not say (Axiom documents 3 hours).
    DEFAULT_TOKEN_LIFETIME_S: ClassVar[float] = 3 * 60 * 60
    #: Refresh this long before expiry, so that a token never dies in the middle of a listing.
    REFRESH_MARGIN_S: ClassVar[float] = 5 * 60

    def __init__(
        self, *, api_key: str, login_email: str, token_request: TokenRequest, clock: Clock
    ) -> None:
        self._exchange_body = {"apiKey": api_key, "email": login_email}
        self._token_request = token_request
        self._clock = clock
        self._token: str | None = None
        self._expires_at = 0.0
        # Held across the exchange's yield: an asyncio.Lock belongs to no task, and httpx always
        # closes the flow (which releases it) when a request fails or is cancelled.
        self._exchange_lock = asyncio.Lock()

    def __repr__(self) -> str:
        return "AxiomTokenAuth(...)"  # never the key, the email or the token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """The flow for a synchronous ``httpx.Client`` used by one thread (no locking)."""
        refused: str | None = None
        for _ in range(2):  # a 401 is tried once more, with a new token
            if refused is not None:
                self._forget(refused)
            token = self._fresh_token()
            if token is None:
                token = self._accept_token((yield self._token_request(self._exchange_body)))
            request.headers["Authorization"] = token
            response = yield request
            if response.status_code != 401:
                return
            refused = token

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        """The flow for ``httpx.AsyncClient``: as :meth:`auth_flow`, with single-flight
        exchanges."""
        refused: str | None = None
        for _ in range(2):  # a 401 is tried once more, with a new token
            async with self._exchange_lock:
                if refused is not None:
                    self._forget(refused)
                token = self._fresh_token()
                if token is None:
                    answer = yield self._token_request(self._exchange_body)
                    await answer.aread()
                    token = self._accept_token(answer)
            request.headers["Authorization"] = token
            response = yield request
            if response.status_code != 401:
                return
            refused = token

    def _fresh_token(self) -> str | None:
        """The cached token, unless it is missing or within the refresh margin of expiry."""
        if self._token is None or self._clock() >= self._expires_at - self.REFRESH_MARGIN_S:
            return None
        return self._token

    def _forget(self, rejected: str) -> None:
        # Only the token the platform refused: one a concurrent request fetched since is kept.
        if self._token == rejected:
            self._token = None

    def _accept_token(self, response: httpx.Response) -> str:
        """Cache and return the token from the exchange's answer; raise if it has none."""
        raise_for_status(response)
        body = decode_json(response)
        if not isinstance(body, dict):
            raise UntrustedPayload("the token answer is not an object")
        token = body.get("accessToken")
        lifetime = body.get("expiresIn", self.DEFAULT_TOKEN_LIFETIME_S)
        if not isinstance(token, str) or not token:
            raise UntrustedPayload("the token answer has no access token")
        if isinstance(lifetime, bool) or not isinstance(lifetime, int | float) or lifetime <= 0:
            raise UntrustedPayload("the token answer has an invalid lifetime")
        self._token = token
        self._expires_at = self._clock() + float(lifetime)
        return token
