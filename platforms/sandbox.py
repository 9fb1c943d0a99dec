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

Users are generated deterministically from the tenant, product and seed, page by page, so ten
thousand accounts cost no memory until a user is deleted. State (faults, deletions, tokens)
lives in the process: run one worker.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import secrets
import time
import zlib
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal, get_args
from urllib.parse import parse_qs

from platforms.types import Product

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

FaultKind = Literal[
    "latency",
    "slow_page",
    "rate_limit",
    "server_error",
    "expired_token",
    "broken_page",
    "malformed_json",
]
FAULT_KINDS: tuple[str, ...] = get_args(FaultKind)
Endpoint = Literal["users", "token"]

#: Extension numbers run from 100 to 9000, so an account holds at most this many users.
MAX_USERS_PER_ACCOUNT = 8901
DEFAULT_API_KEY = "sandbox-api-key"

_FIRST_NAMES = ("Ana", "Ben", "Chloé", "Dev", "Eitan", "Fatima", "Goran", "Hana", "Ines", "Jon")
_LAST_NAMES = ("Abadi", "Brandt", "Costa", "Dubois", "Eze", "Fujita", "Garcia", "Haddad", "Ivanova")
_CREATED_BASE = date(2024, 1, 1)
_LAST_ACTIVE_BASE = date(2026, 11, 27)


class SandboxRequestError(ValueError):
    """A request to the admin surface (or a start-up option) is not valid."""


@dataclass
class Fault:
    """One fault switch.

    ``times`` is how many matching requests it affects (``None``: until cleared). ``tenant``,
    ``product``, ``endpoint`` and ``page`` narrow which requests match (``None``: any).
    ``ms`` is the added delay for ``latency``/``slow_page``; ``retry_after`` the header sent with
    ``rate_limit`` (seconds; ``retry_after_http_date`` sends it as an HTTP date instead).
    ``broken_page`` truncates the matching page (default page 2) to half its users while the
    total still counts them all; ``expired_token`` answers 401 as if the token had expired.
    """

    kind: FaultKind
    times: int | None = None
    tenant: str | None = None
    product: str | None = None
    endpoint: Endpoint | None = None
    page: int | None = None
    ms: int = 0
    retry_after: int = 1
    retry_after_http_date: bool = False

    @classmethod
    def from_json(cls, raw: object) -> Fault:
        """Build a fault from its JSON form; raise :class:`SandboxRequestError` if invalid."""
        if not isinstance(raw, dict) or raw.get("kind") not in FAULT_KINDS:
            raise SandboxRequestError(f"a fault needs a kind, one of {', '.join(FAULT_KINDS)}")
        known = set(cls.__dataclass_fields__)
        unknown = set(raw) - known
        if unknown:
            raise SandboxRequestError(f"unknown fault fields: {', '.join(sorted(unknown))}")
        for name, value in raw.items():
            if value is not None and not isinstance(value, _FAULT_FIELD_TYPES[name]):
                raise SandboxRequestError(f"fault field {name} has the wrong type")
            if name in ("times", "ms", "retry_after", "page") and isinstance(value, bool):
                raise SandboxRequestError(f"fault field {name} must be a number")
        if raw.get("endpoint") not in (None, "users", "token"):
            raise SandboxRequestError("fault endpoint must be users or token")
        fault = cls(**raw)
        if fault.kind == "broken_page" and fault.page is None:
            fault.page = 2
        return fault

    @classmethod
    def parse_option(cls, option: str) -> Fault:
        """Parse a command-line fault such as ``rate_limit:times=1,retry_after=2``."""
        kind, _, rest = option.partition(":")
        raw: dict[str, object] = {"kind": kind}
        for pair in filter(None, rest.split(",")):
            key, _, value = pair.partition("=")
            raw[key] = int(value) if value.lstrip("-").isdigit() else value
        if raw.get("retry_after_http_date") in ("true", 1):
            raw["retry_after_http_date"] = True
        return cls.from_json(raw)

    def matches(self, tenant: str, product: str, endpoint: Endpoint, page: int | None) -> bool:
        """Whether this fault applies to a request."""
        if self.kind in ("slow_page", "expired_token", "broken_page") and endpoint != "users":
            return False
        return (
            (self.tenant is None or self.tenant == tenant)
            and (self.product is None or self.product == product)
            and (self.endpoint is None or self.endpoint == endpoint)
            and (self.page is None or self.page == page)
        )


_FAULT_FIELD_TYPES: dict[str, type | tuple[type, ...]] = {
    "kind": str,
    "times": int,
    "tenant": str,
    "product": str,
    "endpoint": str,
    "page": int,
    "ms": int,
    "retry_after": int,
    "retry_after_http_date": bool,
}


@dataclass
class AccountSettings:
    """How many users an account has and the seed their attributes derive from."""

    users: int
    seed: int


@dataclass
class SandboxConfig:
    """Start-up settings. Accounts not configured get a user count derived from their name,
    between ``min_users`` and ``max_users``."""

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


def _json(data: object) -> bytes:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass(frozen=True)
class _Response:
    status: int
    body: bytes = b""
    headers: tuple[tuple[bytes, bytes], ...] = ()

    @classmethod
    def of_json(cls, status: int, data: object) -> _Response:
        return cls(status, _json(data), ((b"content-type", b"application/json"),))

    @classmethod
    def error(cls, status: int, message: str) -> _Response:
        return cls.of_json(status, {"error": message})


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
        self.faults: list[Fault] = list(self.config.faults)
        self.stats = SandboxStats()
        self._accounts = dict(self.config.accounts)
        self._deleted: dict[tuple[str, str], set[int]] = {}
        self._tokens: dict[str, tuple[str, str, float]] = {}
        self._clock = clock
        self._sleep = sleep

    # --- state, usable in-process as well as over HTTP ----------------------------------------

    def set_account(self, tenant: str, product: str, *, users: int, seed: int = 0) -> None:
        """Give an account exactly ``users`` users (derived from ``seed``); undo deletions."""
        _check_account(tenant, product)
        if not 0 <= users <= MAX_USERS_PER_ACCOUNT:
            raise SandboxRequestError(f"users must be between 0 and {MAX_USERS_PER_ACCOUNT}")
        self._accounts[(tenant, product)] = AccountSettings(users=users, seed=seed)
        self._deleted.pop((tenant, product), None)

    def add_fault(self, fault: Fault) -> None:
        """Switch a fault on."""
        self.faults.append(fault)

    def clear_faults(self) -> None:
        """Switch every fault off."""
        self.faults.clear()

    def users(self, tenant: str, product: str) -> list[dict[str, Any]]:
        """Every user the account has now, as the API serves them."""
        return [
            json.loads(raw) for raw in self._user_json(tenant, product, self._live(tenant, product))
        ]

    def delete_user(self, tenant: str, product: str, user_id: str) -> bool:
        """Delete one user (permanently, as on the real platforms). False if there is none."""
        index = self._index_of(tenant, product, user_id)
        if index is None:
            return False
        self._deleted.setdefault((tenant, product), set()).add(index)
        return True

    # --- ASGI ----------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one ASGI connection scope (``http`` or ``lifespan``)."""
        if scope["type"] == "lifespan":
            await _run_lifespan(receive, send)
            return
        if scope["type"] != "http":
            raise RuntimeError(f"the sandbox does not serve {scope['type']!r} scopes")
        body = await _read_body(receive)
        try:
            response = await self._route(scope, body)
        except SandboxRequestError as exc:
            response = _Response.error(400, str(exc))
        await send(
            {
                "type": "http.response.start",
                "status": response.status,
                "headers": [
                    *response.headers,
                    (b"content-length", str(len(response.body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": response.body})

    async def _route(self, scope: Scope, body: bytes) -> _Response:
        method: str = scope["method"]
        parts = [part for part in scope["path"].split("/") if part]
        if parts == ["healthz"]:
            return _Response.of_json(200, {"ok": True})
        if parts[:1] == ["_sandbox"]:
            return self._route_admin(method, parts[1:], body)
        if len(parts) >= 6 and parts[0] == "t" and parts[3:5] == ["api", "v1"]:
            tenant, product, rest = parts[1], parts[2], parts[5:]
            if _valid_account(tenant, product):
                self.stats.requests += 1
                return await self._route_api(method, tenant, product, rest, scope, body)
        return _Response.error(404, "not found")

    # --- the platform API ---------------------------------------------------------------------

    async def _route_api(
        self, method: str, tenant: str, product: str, rest: list[str], scope: Scope, body: bytes
    ) -> _Response:
        headers = dict(scope["headers"])
        query = parse_qs(scope["query_string"].decode("latin-1"))
        if rest == ["auth", "token"] and method == "POST":
            endpoint: Endpoint = "token"
            page = None
        elif rest[:1] == ["users"] and len(rest) <= 2:
            endpoint = "users"
            page = _int_param(query, "page", 1) if len(rest) == 1 else None
        else:
            return _Response.error(404, "not found")

        fault_response = await self._apply_faults(tenant, product, endpoint, page)
        if fault_response is not None:
            return fault_response
        if endpoint == "token":
            return self._exchange_token(tenant, product, body)
        if not self._authorized(tenant, product, headers.get(b"authorization", b"")):
            return _Response.error(401, "invalid or expired token")
        if method == "GET" and len(rest) == 1:
            per_page = _int_param(query, "perPage", self.config.max_per_page)
            return self._list_page(tenant, product, page or 1, per_page)
        if method == "DELETE" and len(rest) == 2:
            deleted = self.delete_user(tenant, product, rest[1])
            return _Response(204) if deleted else _Response.error(404, "no such user")
        return _Response.error(405, "method not allowed")

    async def _apply_faults(
        self, tenant: str, product: str, endpoint: Endpoint, page: int | None
    ) -> _Response | None:
        delay_ms = 0
        outcome: _Response | None = None
        for fault in list(self.faults):
            if not fault.matches(tenant, product, endpoint, page):
                continue
            if fault.kind in ("latency", "slow_page"):
                delay_ms += fault.ms
            elif outcome is None:
                outcome = self._fault_response(fault, tenant, product, page)
            else:
                continue  # only the first failing fault fires; later ones keep their count
            if fault.times is not None:
                fault.times -= 1
                if fault.times <= 0:
                    self.faults.remove(fault)
        if delay_ms:
            await self._sleep(delay_ms / 1000)
        return outcome

    def _fault_response(
        self, fault: Fault, tenant: str, product: str, page: int | None
    ) -> _Response:
        if fault.kind == "rate_limit":
            if fault.retry_after_http_date:
                when = datetime.now(UTC) + timedelta(seconds=fault.retry_after)
                value = email.utils.format_datetime(when, usegmt=True)
            else:
                value = str(fault.retry_after)
            return _Response(
                429, _json({"error": "too many requests"}), ((b"retry-after", value.encode()),)
            )
        if fault.kind == "server_error":
            return _Response.error(500, "internal server error")
        if fault.kind == "expired_token":
            return _Response.error(401, "token expired")
        if fault.kind == "malformed_json":
            return _Response(200, b'{"data": [{"id": ', ((b"content-type", b"application/json"),))
        # broken_page: a short page in the middle, while the total still counts every user.
        live = self._live(tenant, product)
        per_page = self.config.max_per_page
        start = ((page or 1) - 1) * per_page
        chunk = live[start : start + per_page]
        return self._page_response(
            tenant, product, page or 1, per_page, chunk[: len(chunk) // 2], len(live)
        )

    def _exchange_token(self, tenant: str, product: str, body: bytes) -> _Response:
        self.stats.token_exchanges += 1
        try:
            request = json.loads(body or b"null")
        except ValueError:
            return _Response.error(400, "body must be JSON")
        if (
            not isinstance(request, dict)
            or request.get("apiKey") != self.config.api_key
            or "@" not in str(request.get("email", ""))
        ):
            return _Response.error(401, "invalid API key or login email")
        token = secrets.token_urlsafe(24)
        lifetime = self.config.token_lifetime_s
        self._forget_expired_tokens()
        self._tokens[token] = (tenant, product, self._clock() + lifetime)
        return _Response.of_json(200, {"accessToken": token, "expiresIn": lifetime})

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

    def _list_page(self, tenant: str, product: str, page: int, per_page: int) -> _Response:
        if page < 1 or per_page < 1:
            raise SandboxRequestError("page and perPage must be positive")
        per_page = min(per_page, self.config.max_per_page)
        self.stats.user_pages += 1
        start = (page - 1) * per_page
        deleted = self._deleted.get((tenant, product))
        if deleted:
            live = self._live(tenant, product)
            total = len(live)
            indices: Iterable[int] = live[start : start + per_page]
        else:
            total = self._settings(tenant, product).users
            indices = range(start, min(start + per_page, total))
        return self._page_response(tenant, product, page, per_page, indices, total)

    def _page_response(
        self,
        tenant: str,
        product: str,
        page: int,
        per_page: int,
        indices: Iterable[int],
        total: int,
    ) -> _Response:
        users = ",".join(self._user_json(tenant, product, indices))
        body = f'{{"data":[{users}],"page":{page},"perPage":{per_page},"total":{total}}}'
        return _Response(200, body.encode(), ((b"content-type", b"application/json"),))

    # --- deterministic users ------------------------------------------------------------------

    def _settings(self, tenant: str, product: str) -> AccountSettings:
        settings = self._accounts.get((tenant, product))
        if settings is None:
            digest = zlib.crc32(f"{tenant}/{product}".encode())
            span = self.config.max_users - self.config.min_users + 1
            settings = AccountSettings(users=self.config.min_users + digest % span, seed=digest)
        return settings

    def _live(self, tenant: str, product: str) -> list[int]:
        deleted = self._deleted.get((tenant, product), set())
        return [i for i in range(self._settings(tenant, product).users) if i not in deleted]

    def _index_of(self, tenant: str, product: str, user_id: str) -> int | None:
        prefix = f"{product[:2]}-{tenant}-"
        number = user_id.removeprefix(prefix)
        if number == user_id or not number.isdigit():
            return None
        index = int(number) - 1
        if index >= self._settings(tenant, product).users or index in self._deleted.get(
            (tenant, product), set()
        ):
            return None
        return index

    def _user_json(self, tenant: str, product: str, indices: Iterable[int]) -> Iterable[str]:
        # Built from a template rather than json.dumps: the benchmark serves tens of thousands
        # of pages. Every interpolated value is digits, a fixed name, or a checked tenant name.
        seed = self._settings(tenant, product).seed
        prefix = product[:2]
        for i in indices:
            level = "admin" if i == 0 else ("manager" if (i + seed) % 10 == 1 else "agent")
            status = "inactive" if i and (i * 31 + seed) % 7 == 3 else "active"
            created = _CREATED_BASE + timedelta(days=(i * 3 + seed % 5) % 900)
            if (i * 17 + seed) % 11 == 0:
                last_active = "null"
            else:
                last_active = (
                    f'"{_LAST_ACTIVE_BASE - timedelta(days=(i * 5 + seed) % 400)}T09:30:00Z"'
                )
            name = f"{_FIRST_NAMES[(i * 7 + seed) % 10]} {_LAST_NAMES[(i * 13 + seed) % 9]}"
            yield (
                f'{{"id":"{prefix}-{tenant}-{i + 1}","email":"user{i + 1}@{tenant}.example.com",'
                f'"name":"{name}","extension":{100 + i},"level":"{level}","status":"{status}",'
                f'"createdAt":"{created}T08:00:00Z","lastActiveAt":{last_active}}}'
            )

    # --- admin surface ------------------------------------------------------------------------

    def _route_admin(self, method: str, parts: list[str], body: bytes) -> _Response:
        if parts == ["stats"] and method == "GET":
            return _Response.of_json(200, asdict(self.stats))
        if parts == ["faults"]:
            if method == "GET":
                return _Response.of_json(200, {"faults": [asdict(f) for f in self.faults]})
            if method == "DELETE":
                self.clear_faults()
                return _Response(204)
            if method == "POST":
                raw = _load_json(body)
                for fault_json in raw if isinstance(raw, list) else [raw]:
                    self.add_fault(Fault.from_json(fault_json))
                return _Response.of_json(201, {"faults": [asdict(f) for f in self.faults]})
        if len(parts) >= 3 and parts[0] == "accounts":
            tenant, product, rest = parts[1], parts[2], parts[3:]
            _check_account(tenant, product)
            if not rest and method == "PUT":
                raw = _load_json(body)
                if not isinstance(raw, dict) or not isinstance(raw.get("users"), int):
                    raise SandboxRequestError('expected {"users": N, "seed": S}')
                self.set_account(tenant, product, users=raw["users"], seed=int(raw.get("seed", 0)))
                return _Response.of_json(200, {"users": raw["users"]})
            if rest == ["users"] and method == "GET":
                return _Response.of_json(200, {"data": self.users(tenant, product)})
            if len(rest) == 2 and rest[0] == "users" and method == "DELETE":
                deleted = self.delete_user(tenant, product, rest[1])
                return _Response(204) if deleted else _Response.error(404, "no such user")
        return _Response.error(404, "not found")


def load_accounts_file(raw: object) -> dict[tuple[str, str], AccountSettings]:
    """Parse the ``--accounts`` JSON: ``[{"tenant": "acme", "product": "axiom", "users": 40,
    "seed": 7}, ...]``."""
    if not isinstance(raw, list):
        raise SandboxRequestError("the accounts file must hold a JSON list")
    accounts: dict[tuple[str, str], AccountSettings] = {}
    for entry in raw:
        if not isinstance(entry, dict) or not isinstance(entry.get("users"), int):
            raise SandboxRequestError('each account needs "tenant", "product" and "users"')
        tenant, product = str(entry.get("tenant")), str(entry.get("product"))
        _check_account(tenant, product)
        accounts[(tenant, product)] = AccountSettings(entry["users"], int(entry.get("seed", 0)))
    return accounts


def _valid_account(tenant: str, product: str) -> bool:
    # Tenant names go into generated JSON unescaped, so only a safe alphabet is accepted.
    return (
        product in Product.__members__.values()
        and 0 < len(tenant) <= 63
        and all(c.isascii() and (c.isalnum() or c in "-_") for c in tenant)
    )


def _check_account(tenant: str, product: str) -> None:
    if not _valid_account(tenant, product):
        raise SandboxRequestError(
            "tenant must be letters, digits, - or _, and product one of "
            + ", ".join(p.value for p in Product)
        )


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


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


async def _run_lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
