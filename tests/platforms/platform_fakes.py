"""Fixtures for the platform tests: one ``Backend`` per Platform implementation.

A backend puts a known set of users behind a Platform, builds the Platform, and (for the HTTP
clients) switches faults on. HTTP clients are tested twice: against a small scripted fake of the
API on ``httpx.MockTransport`` (independent of the sandbox, so a sandbox bug cannot hide a client
bug) and against the sandbox server through ``httpx.ASGITransport``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import openpyxl
import pytest

from platforms.connection import HostLimits, PlatformConnection, RetryPolicy, Timeouts
from platforms.factory import build_platform
from platforms.importfile import COLUMNS
from platforms.sandbox import Fault, SandboxApp, SandboxConfig
from platforms.types import Level, Platform, PlatformUser, Product, UserStatus

# Distinctive credentials, so a leak into any text is easy to find.
API_KEY = "sk-SECRET-4f9a1c"
STATIC_TOKEN = API_KEY  # the sandbox takes the same secret as Contact Center/Matrix's token
LOGIN_EMAIL = "owner@acme.example.com"
SECRETS = (API_KEY,)
PAGE_SIZE = 100


class RecordingSleep:
    """An injectable ``sleep`` that returns at once and remembers what it was asked to wait."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def user_json(index: int) -> dict[str, Any]:
    """A user as the API serves it, with varied encodings (ids as numbers, Level_ID codes)."""
    return {
        "id": 1000 + index,
        "email": f"person{index}@acme.example.com",
        "name": f"Person {index}",
        "extension": str(100 + index) if index % 2 else 100 + index,
        "level": ["admin", "manager", "agent", 3, 4][index % 5],
        "status": ["active", "inactive", 1, 0][index % 4],
        "createdAt": f"2025-01-{1 + index % 28:02d}T10:00:00Z",
        "lastActiveAt": None if index % 3 == 0 else f"2026-10-{1 + index % 28:02d}T10:00:00+02:00",
    }


_LEVELS = {"admin": Level.ADMIN, "manager": Level.MANAGER, "agent": Level.AGENT}
_LEVELS.update({2: Level.ADMIN, 3: Level.MANAGER, 4: Level.AGENT})  # type: ignore[dict-item]
_STATUSES: dict[object, UserStatus] = {
    "active": UserStatus.ACTIVE,
    "inactive": UserStatus.INACTIVE,
    1: UserStatus.ACTIVE,
    0: UserStatus.INACTIVE,
}


def expected_user(raw: dict[str, Any]) -> PlatformUser:
    """The test's own, independent reading of a user JSON object."""

    def instant(value: str | None) -> datetime | None:
        return None if value is None else datetime.fromisoformat(value).astimezone(UTC)

    return PlatformUser(
        platform_id=str(raw["id"]),
        email=raw["email"],
        name=raw["name"],
        extension=int(raw["extension"]),
        level=_LEVELS[raw["level"]],
        status=_STATUSES[raw["status"]],
        created_at=instant(raw["createdAt"]),
        last_active_at=instant(raw["lastActiveAt"]),
    )


class FakeSquaretalkApi:
    """The API as ``platforms/README.md`` describes it, scripted for ``httpx.MockTransport``.

    Faults are :class:`platforms.sandbox.Fault` descriptions (only kind and ``times`` are used)
    plus ``connect_error`` and ``read_timeout``, which only a transport can produce.
    """

    def __init__(self, product: Product) -> None:
        self.product = product
        self.users: list[dict[str, Any]] = []
        self.faults: list[dict[str, Any]] = []
        self.requests: list[httpx.Request] = []
        self.issued_tokens: list[str] = []

    def inject(self, kind: str, times: int | None = None, **options: Any) -> None:
        self.faults.append({"kind": kind, "times": times, **options})

    def _next_fault(self, endpoint: str) -> dict[str, Any] | None:
        for fault in self.faults:
            users_only = fault["kind"] in ("expired_token", "broken_page", "slow_page")
            if users_only and endpoint != "users":
                continue
            if fault["times"] is not None:
                fault["times"] -= 1
                if fault["times"] <= 0:
                    self.faults.remove(fault)
            return fault
        return None

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        endpoint = "token" if request.url.path.endswith("/auth/token") else "users"
        fault = self._next_fault(endpoint)
        if fault is not None:
            kind = fault["kind"]
            if kind == "connect_error":
                raise httpx.ConnectError("connection refused", request=request)
            if kind in ("read_timeout", "slow_page"):
                raise httpx.ReadTimeout("timed out", request=request)
            if kind == "rate_limit":
                headers = {"Retry-After": str(fault.get("retry_after", 1))}
                return httpx.Response(429, headers=headers, json={"error": "slow down"})
            if kind == "server_error":
                return httpx.Response(503, json={"error": "unavailable"})
            if kind == "expired_token":
                return httpx.Response(401, json={"error": "token expired"})
            if kind == "malformed_json":
                return httpx.Response(200, content=b'{"data": [', headers=_JSON)
        if endpoint == "token":
            body = json.loads(request.content)
            if body != {"apiKey": API_KEY, "email": LOGIN_EMAIL}:
                return httpx.Response(401, json={"error": "bad key"})
            token = f"access-{len(self.issued_tokens)}"
            self.issued_tokens.append(token)
            return httpx.Response(200, json={"accessToken": token, "expiresIn": 10800})
        if not self._authorized(request.headers.get("Authorization", "")):
            return httpx.Response(401, json={"error": "unauthorized"})
        page = int(request.url.params["page"])
        per_page = min(int(request.url.params["perPage"]), PAGE_SIZE)
        chunk = self.users[(page - 1) * per_page : page * per_page]
        if fault is not None and fault["kind"] == "broken_page":
            chunk = chunk[: len(chunk) // 2]
        body = {"data": chunk, "page": page, "perPage": per_page, "total": len(self.users)}
        return httpx.Response(200, json=body)

    def _authorized(self, authorization: str) -> bool:
        if self.product is Product.AXIOM:
            return bool(self.issued_tokens) and authorization == self.issued_tokens[-1]
        return authorization == STATIC_TOKEN


_JSON = {"content-type": "application/json"}


def connection_for(product: Product, base_url: str, **overrides: Any) -> PlatformConnection:
    """A connection with the test credentials, short deadlines and quick retries."""
    credentials: dict[str, Any] = (
        {"api_key": API_KEY, "login_email": LOGIN_EMAIL}
        if product is Product.AXIOM
        else {"token": STATIC_TOKEN}
    )
    connection = PlatformConnection(
        product=product,
        kind="api",
        base_url=base_url,
        timeouts=Timeouts(connect_s=1, read_s=1, listing_deadline_s=5),
        retry=RetryPolicy(max_attempts=3, backoff_initial_s=0.01, backoff_max_s=0.05),
        **credentials,
    )
    return replace(connection, **overrides)


@dataclass
class Backend:
    """One Platform implementation with users behind it."""

    id: str
    product: Product
    kind: str  # "mock", "sandbox" or "file"
    populate: Callable[[int], list[PlatformUser]]
    build: Callable[..., Platform]
    inject: Callable[..., None] | None = None
    page_requests: Callable[[], int] | None = None
    sleep: RecordingSleep = field(default_factory=RecordingSleep)


def mock_backend(product: Product) -> Backend:
    api = FakeSquaretalkApi(product)
    transport = httpx.MockTransport(api.handle)
    sleep = RecordingSleep()

    def populate(count: int) -> list[PlatformUser]:
        api.users = [user_json(i) for i in range(count)]
        return [expected_user(raw) for raw in api.users]

    def build(**overrides: Any) -> Platform:
        connection = connection_for(product, f"https://acme.{product}.example.com", **overrides)
        return build_platform(connection, transport=transport, limits=HostLimits(4), sleep=sleep)

    return Backend(
        id=f"{product}-mock",
        product=product,
        kind="mock",
        populate=populate,
        build=build,
        inject=api.inject,
        page_requests=lambda: sum(r.url.path.endswith("/users") for r in api.requests),
        sleep=sleep,
    )


def sandbox_backend(product: Product, app: SandboxApp | None = None) -> Backend:
    app = app or SandboxApp(SandboxConfig(api_key=API_KEY))
    transport = httpx.ASGITransport(app=app)
    sleep = RecordingSleep()

    def populate(count: int) -> list[PlatformUser]:
        app.set_account("acme", product, users=count, seed=3)
        return [expected_user(raw) for raw in app.users("acme", product)]

    def build(**overrides: Any) -> Platform:
        connection = connection_for(product, f"http://sandbox.test/t/acme/{product}", **overrides)
        return build_platform(connection, transport=transport, limits=HostLimits(4), sleep=sleep)

    def inject(kind: str, times: int | None = None, **options: Any) -> None:
        app.add_fault(Fault.from_json({"kind": kind, "times": times, **options}))

    backend = Backend(
        id=f"{product}-sandbox",
        product=product,
        kind="sandbox",
        populate=populate,
        build=build,
        inject=inject,
        page_requests=lambda: app.stats.user_pages,
        sleep=sleep,
    )
    backend.app = app  # type: ignore[attr-defined]
    return backend


def file_backend(product: Product, suffix: str, directory: Path) -> Backend:
    path = directory / f"users{suffix}"

    def populate(count: int) -> list[PlatformUser]:
        rows = [file_row(i) for i in range(count)]
        write_user_file(path, rows)
        return [
            PlatformUser(
                platform_id=row[1].casefold(),
                email=row[1],
                name=row[0],
                extension=int(row[2]),
                level={"2": Level.ADMIN, "3": Level.MANAGER, "4": Level.AGENT}[row[4]],
                status=UserStatus.ACTIVE if row[10] == "1" else UserStatus.INACTIVE,
            )
            for row in rows
        ]

    def build(**_overrides: Any) -> Platform:
        connection = PlatformConnection(product=product, kind="import_file", file_path=path)
        return build_platform(connection)

    return Backend(
        id=f"{product}-file{suffix}", product=product, kind="file", populate=populate, build=build
    )


def file_row(index: int) -> list[str]:
    """A valid import-file row; every fifth user is an admin (no groups needed)."""
    level = "2" if index % 5 == 0 else ("3" if index % 5 == 1 else "4")
    return [
        f"Person {index}",
        f"person{index}@acme.example.com",
        str(100 + index),
        "",
        level,
        "",
        "en",
        "" if level == "2" else "10,11",
        str(index % 3),
        "1",
        "0" if index % 4 == 1 else "1",
        "0",
        f"4930{index:06d}",
    ]


def write_user_file(path: Path, rows: list[list[str]], header: tuple[str, ...] = COLUMNS) -> None:
    """Write rows under the header as CSV or .xlsx (numbers as numbers, as Excel would)."""
    if path.suffix == ".csv":
        import csv

        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(header)
            writer.writerows(rows)
        return
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(list(header))
    for row in rows:
        sheet.append(
            [
                int(cell) if cell.isdigit() and not cell.startswith("0") else cell or None
                for cell in row
            ]
        )
    workbook.save(path)


HTTP_BACKENDS = [(kind, product) for kind in ("mock", "sandbox") for product in Product]


@pytest.fixture(params=HTTP_BACKENDS, ids=[f"{p}-{k}" for k, p in HTTP_BACKENDS])
def http_backend(request: pytest.FixtureRequest) -> Backend:
    """Each HTTP client, against the scripted fake and against the sandbox."""
    kind, product = request.param
    return mock_backend(product) if kind == "mock" else sandbox_backend(product)


ALL_BACKENDS = [*HTTP_BACKENDS, ("file", ".csv"), ("file", ".xlsx")]


@pytest.fixture(
    params=ALL_BACKENDS,
    ids=[f"{p}-{k}" for k, p in HTTP_BACKENDS] + ["file-csv", "file-xlsx"],
)
def any_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    """Every Platform implementation: the HTTP clients (twice) and the import file."""
    kind, detail = request.param
    if kind == "file":
        return file_backend(Product.MATRIX, detail, tmp_path)
    return mock_backend(detail) if kind == "mock" else sandbox_backend(detail)
