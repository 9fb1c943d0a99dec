"""A local stand-in for the Contact Center, Axiom and Matrix user APIs.

A plain ASGI application (no framework): serve it with uvicorn (``seatbot sandbox``) or drive it
in-process with ``httpx.ASGITransport``. It speaks exactly the API the clients in
:mod:`platforms.http` assume (see ``platforms/README.md``), with one tenant per path prefix:

    POST   /t/{tenant}/{product}/api/v1/auth/token   {"apiKey", "email"}
                                                     -> {"accessToken", "expiresIn"}
    GET    /t/{tenant}/{product}/api/v1/users?page=1&perPage=100
    DELETE /t/{tenant}/{product}/api/v1/users/{id}

and an unauthenticated admin surface for demos and tests:

    GET    /healthz
    GET    /_sandbox/stats                                  request counters
    GET    /_sandbox/faults      POST /_sandbox/faults      DELETE /_sandbox/faults
    PUT    /_sandbox/accounts/{tenant}/{product}            {"users": 40, "seed": 7}
    GET    /_sandbox/accounts/{tenant}/{product}/users
    DELETE /_sandbox/accounts/{tenant}/{product}/users/{id}

This module routes requests and issues tokens; who exists is :mod:`platforms.sandbox_users`
(including the defaults for the accounts of ``examples/accounts.yml``), what goes wrong is
:mod:`platforms.sandbox_faults`. State (faults, deletions, tokens) lives in the process: run
one worker.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import secrets
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

from platforms.sandbox_asgi import (
    Receive,
    Response,
    Scope,
    Send,
    json_bytes,
    read_body,
    run_lifespan,
)
from platforms.sandbox_faults import FAULT_KINDS, Endpoint, Fault, FaultKind, FaultSwitches
from platforms.sandbox_users import (
    EXAMPLE_ACCOUNTS,
    MAX_USERS_PER_ACCOUNT,
    AccountSettings,
    SandboxAccounts,
    SandboxRequestError,
    check_account,
    load_accounts_file,
    valid_account,
)
from platforms.types import Product

# Names that lived here before the split; importing them from here keeps working.
__all__ = [
    "DEFAULT_API_KEY",
    "EXAMPLE_ACCOUNTS",
    "FAULT_KINDS",
    "MAX_USERS_PER_ACCOUNT",
    "AccountSettings",
    "Endpoint",
    "Fault",
    "FaultKind",
    "SandboxApp",
    "SandboxConfig",
    "SandboxRequestError",
    "SandboxStats",
    "load_accounts_file",
]

DEFAULT_API_KEY = "sandbox-api-key"


@dataclass
class SandboxConfig:
    """Start-up settings. ``accounts`` fixes the users of some accounts; the accounts of
    ``examples/accounts.yml`` otherwise get :data:`EXAMPLE_ACCOUNTS`, and any other account a
    user count derived from its name, between ``min_users`` and ``max_users``."""

    api_key: str = field(default=DEFAULT_API_KEY, repr=False)
    token_lifetime_s: int = 3 * 60 * 60
    min_users: int = 5
    max_users: int = 250
    max_per_page: int = 100
    faults: list[Fault] = field(default_factory=list)
    accounts: dict[tuple[str, str], AccountSettings] = field(default_factory=dict)


@dataclass
class SandboxStats:
    """Counters since start, for tests and the benchmark."""

    requests: int = 0
    user_pages: int = 0
    token_exchanges: int = 0


class SandboxApp:
    """The sandbox platform server as an ASGI callable.

    ``clock`` (monotonic seconds) decides token expiry; ``sleep`` is how latency is added.
    """

    def __init__(
        self,
        config: SandboxConfig | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.config = config or SandboxConfig()
        self.stats = SandboxStats()
        self._switches = FaultSwitches(self.config.faults)
        self._accounts = SandboxAccounts(
            self.config.accounts, min_users=self.config.min_users, max_users=self.config.max_users
        )
        self._tokens: dict[str, tuple[str, str, float]] = {}
        self._clock = clock
        self._sleep = sleep

    # --- state, usable in-process as well as over HTTP ----------------------------------------

    @property
    def faults(self) -> list[Fault]:
        """The faults that are on, in order (the live list)."""
        return self._switches.active

    def set_account(self, tenant: str, product: str, *, users: int, seed: int = 0) -> None:
        """Give an account exactly ``users`` users (derived from ``seed``); undo deletions."""
        self._accounts.set(tenant, product, users=users, seed=seed)

    def add_fault(self, fault: Fault) -> None:
        """Switch a fault on."""
        self._switches.add(fault)

    def clear_faults(self) -> None:
        """Switch every fault off."""
        self._switches.clear()

    def users(self, tenant: str, product: str) -> list[dict[str, Any]]:
        """Every user the account has now, as the API serves them."""
        return self._accounts.users(tenant, product)

    def delete_user(self, tenant: str, product: str, user_id: str) -> bool:
        """Delete one user (permanently, as on the real platforms). False if there is none."""
        return self._accounts.delete(tenant, product, user_id)

    # --- ASGI ----------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one ASGI connection scope (``http`` or ``lifespan``)."""
        if scope["type"] == "lifespan":
            await run_lifespan(receive, send)
            return
        if scope["type"] != "http":
            raise RuntimeError(f"the sandbox does not serve {scope['type']!r} scopes")
        body = await read_body(receive)
        try:
            response = await self._route(scope, body)
        except SandboxRequestError as exc:
            response = Response.error(400, str(exc))
        await response.send(send)

    async def _route(self, scope: Scope, body: bytes) -> Response:
        method: str = scope["method"]
        parts = [part for part in scope["path"].split("/") if part]
        if parts == ["healthz"]:
            return Response.of_json(200, {"ok": True})
        if parts[:1] == ["_sandbox"]:
            return self._route_admin(method, parts[1:], body)
        if len(parts) >= 6 and parts[0] == "t" and parts[3:5] == ["api", "v1"]:
            tenant, product, rest = parts[1], parts[2], parts[5:]
            if valid_account(tenant, product):
                self.stats.requests += 1
                return await self._route_api(method, tenant, product, rest, scope, body)
        return Response.error(404, "not found")

    # --- the platform API ---------------------------------------------------------------------

    async def _route_api(
        self, method: str, tenant: str, product: str, rest: list[str], scope: Scope, body: bytes
    ) -> Response:
        headers = dict(scope["headers"])
        query = parse_qs(scope["query_string"].decode("latin-1"))
        if rest == ["auth", "token"] and method == "POST":
            endpoint: Endpoint = "token"
            page = None
        elif rest[:1] == ["users"] and len(rest) <= 2:
            endpoint = "users"
            page = _int_param(query, "page", 1) if len(rest) == 1 else None
        else:
            return Response.error(404, "not found")

        delay_ms, fault = self._switches.trigger(tenant, product, endpoint, page)
        if delay_ms:
            await self._sleep(delay_ms / 1000)
        if fault is not None:
            return self._fault_response(fault, tenant, product, page)
        if endpoint == "token":
            return self._exchange_token(tenant, product, body)
        if not self._authorized(tenant, product, headers.get(b"authorization", b"")):
            return Response.error(401, "invalid or expired token")
        if method == "GET" and len(rest) == 1:
            per_page = _int_param(query, "perPage", self.config.max_per_page)
            return self._list_page(tenant, product, page or 1, per_page)
        if method == "DELETE" and len(rest) == 2:
            deleted = self.delete_user(tenant, product, rest[1])
            return Response(204) if deleted else Response.error(404, "no such user")
        return Response.error(405, "method not allowed")

    def _fault_response(
        self, fault: Fault, tenant: str, product: str, page: int | None
    ) -> Response:
        if fault.kind == "rate_limit":
            if fault.retry_after_http_date:
                when = datetime.now(UTC) + timedelta(seconds=fault.retry_after)
                value = email.utils.format_datetime(when, usegmt=True)
            else:
                value = str(fault.retry_after)
            error = json_bytes({"error": "too many requests"})
            return Response(429, error, ((b"retry-after", value.encode()),))
        if fault.kind == "server_error":
            return Response.error(500, "internal server error")
        if fault.kind == "expired_token":
            return Response.error(401, "token expired")
        if fault.kind == "malformed_json":
            return Response.raw_json(200, b'{"data": [{"id": ')
        # broken_page: a short page in the middle, while the total still counts every user.
        per_page = self.config.max_per_page
        start = ((page or 1) - 1) * per_page
        indices, total = self._accounts.page(tenant, product, start, per_page)
        chunk = list(indices)
        return self._page_response(
            tenant, product, page or 1, per_page, chunk[: len(chunk) // 2], total
        )

    def _exchange_token(self, tenant: str, product: str, body: bytes) -> Response:
        self.stats.token_exchanges += 1
        try:
            request = json.loads(body or b"null")
        except ValueError:
            return Response.error(400, "body must be JSON")
        if (
            not isinstance(request, dict)
            or request.get("apiKey") != self.config.api_key
            or "@" not in str(request.get("email", ""))
        ):
            return Response.error(401, "invalid API key or login email")
        token = secrets.token_urlsafe(24)
        lifetime = self.config.token_lifetime_s
        self._forget_expired_tokens()
        self._tokens[token] = (tenant, product, self._clock() + lifetime)
        return Response.of_json(200, {"accessToken": token, "expiresIn": lifetime})

    def _forget_expired_tokens(self) -> None:
        now = self._clock()
        if len(self._tokens) > 1000:
            self._tokens = {t: v for t, v in self._tokens.items() if v[2] > now}

    def _authorized(self, tenant: str, product: str, authorization: bytes) -> bool:
        presented = authorization.decode("latin-1")
        if product != Product.AXIOM:
            # Contact Center and Matrix take the static API token, raw.
            return secrets.compare_digest(presented, self.config.api_key)
        issued = self._tokens.get(presented)
        return issued is not None and issued[:2] == (tenant, product) and issued[2] > self._clock()

    def _list_page(self, tenant: str, product: str, page: int, per_page: int) -> Response:
        if page < 1 or per_page < 1:
            raise SandboxRequestError("page and perPage must be positive")
        per_page = min(per_page, self.config.max_per_page)
        self.stats.user_pages += 1
        indices, total = self._accounts.page(tenant, product, (page - 1) * per_page, per_page)
        return self._page_response(tenant, product, page, per_page, indices, total)

    def _page_response(
        self,
        tenant: str,
        product: str,
        page: int,
        per_page: int,
        indices: Iterable[int],
        total: int,
    ) -> Response:
        users = ",".join(self._accounts.user_json(tenant, product, indices))
        body = f'{{"data":[{users}],"page":{page},"perPage":{per_page},"total":{total}}}'
        return Response.raw_json(200, body.encode())

    # --- admin surface ------------------------------------------------------------------------

    def _route_admin(self, method: str, parts: list[str], body: bytes) -> Response:
        if parts == ["stats"] and method == "GET":
            return Response.of_json(200, asdict(self.stats))
        if parts == ["faults"]:
            if method == "GET":
                return Response.of_json(200, {"faults": [asdict(f) for f in self.faults]})
            if method == "DELETE":
                self.clear_faults()
                return Response(204)
            if method == "POST":
                raw = _load_json(body)
                for fault_json in raw if isinstance(raw, list) else [raw]:
                    self.add_fault(Fault.from_json(fault_json))
                return Response.of_json(201, {"faults": [asdict(f) for f in self.faults]})
        if len(parts) >= 3 and parts[0] == "accounts":
            tenant, product, rest = parts[1], parts[2], parts[3:]
            check_account(tenant, product)
            if not rest and method == "PUT":
                raw = _load_json(body)
                if not isinstance(raw, dict) or not isinstance(raw.get("users"), int):
                    raise SandboxRequestError('expected {"users": N, "seed": S}')
                self.set_account(tenant, product, users=raw["users"], seed=int(raw.get("seed", 0)))
                return Response.of_json(200, {"users": raw["users"]})
            if rest == ["users"] and method == "GET":
                return Response.of_json(200, {"data": self.users(tenant, product)})
            if len(rest) == 2 and rest[0] == "users" and method == "DELETE":
                deleted = self.delete_user(tenant, product, rest[1])
                return Response(204) if deleted else Response.error(404, "no such user")
        return Response.error(404, "not found")


def _int_param(query: dict[str, list[str]], name: str, default: int) -> int:
    values = query.get(name)
    if not values:
        return default
    try:
        return int(values[0])
    except ValueError:
        raise SandboxRequestError(f"{name} must be a whole number") from None


def _load_json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        raise SandboxRequestError("body must be JSON") from None
