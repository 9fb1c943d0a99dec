"""The sandbox server's own surface: admin endpoints, fault switches, determinism, ASGI, and
default users that agree with examples/accounts.yml."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from platform_fakes import API_KEY

from billing.seats.decrease import DecreaseVerdict, check_seat_change
from platforms.connection import PlatformConnection
from platforms.factory import build_platform
from platforms.guard import read_listing
from platforms.sandbox import (
    DEFAULT_API_KEY,
    EXAMPLE_ACCOUNTS,
    AccountSettings,
    Fault,
    SandboxApp,
    SandboxConfig,
    SandboxRequestError,
    load_accounts_file,
)
from platforms.types import Product, UserListing


@pytest.fixture
async def admin() -> AsyncIterator[tuple[SandboxApp, httpx.AsyncClient]]:
    app = SandboxApp(SandboxConfig(api_key=API_KEY))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox.test") as client:
        yield app, client


async def test_accounts_are_set_listed_and_users_deleted(
    admin: tuple[SandboxApp, httpx.AsyncClient],
) -> None:
    _, client = admin
    assert (
        await client.put("/_sandbox/accounts/acme/matrix", json={"users": 3})
    ).status_code == 200
    users = (await client.get("/_sandbox/accounts/acme/matrix/users")).json()["data"]
    assert [u["id"] for u in users] == ["ma-acme-1", "ma-acme-2", "ma-acme-3"]
    assert (
        await client.delete("/_sandbox/accounts/acme/matrix/users/ma-acme-2")
    ).status_code == 204
    assert (
        await client.delete("/_sandbox/accounts/acme/matrix/users/ma-acme-2")
    ).status_code == 404
    remaining = (await client.get("/_sandbox/accounts/acme/matrix/users")).json()["data"]
    assert [u["id"] for u in remaining] == ["ma-acme-1", "ma-acme-3"]
    page = await client.get(
        "/t/acme/matrix/api/v1/users",
        params={"page": 1, "perPage": 100},
        headers={"Authorization": API_KEY},
    )
    assert page.json()["total"] == 2
    assert [u["id"] for u in page.json()["data"]] == ["ma-acme-1", "ma-acme-3"]


async def test_api_deletion_needs_the_token(admin: tuple[SandboxApp, httpx.AsyncClient]) -> None:
    app, client = admin
    app.set_account("acme", "contact_center", users=2)
    path = "/t/acme/contact_center/api/v1/users/co-acme-1"
    assert (await client.delete(path)).status_code == 401
    assert (await client.delete(path, headers={"Authorization": API_KEY})).status_code == 204
    assert [u["id"] for u in app.users("acme", "contact_center")] == ["co-acme-2"]


async def test_faults_are_switched_on_counted_down_and_off(
    admin: tuple[SandboxApp, httpx.AsyncClient],
) -> None:
    app, client = admin
    response = await client.post(
        "/_sandbox/faults",
        json=[
            {"kind": "server_error", "times": 2},
            {"kind": "latency", "ms": 0, "tenant": "other"},
        ],
    )
    assert response.status_code == 201
    assert [f["kind"] for f in (await client.get("/_sandbox/faults")).json()["faults"]] == [
        "server_error",
        "latency",
    ]
    url = "/t/acme/matrix/api/v1/users"
    headers = {"Authorization": API_KEY}
    statuses = [(await client.get(url, headers=headers)).status_code for _ in range(3)]
    assert statuses == [500, 500, 200]
    assert (await client.delete("/_sandbox/faults")).status_code == 204
    assert (await client.get("/_sandbox/faults")).json() == {"faults": []}
    assert app.stats.requests == 3


@pytest.mark.parametrize(
    "body",
    [
        {"kind": "earthquake"},
        {"kind": "latency", "volume": 3},
        "nonsense",
        {"kind": "latency", "ms": "x"},
    ],
)
async def test_bad_faults_are_400(admin: tuple[SandboxApp, httpx.AsyncClient], body: Any) -> None:
    _, client = admin
    response = await client.post("/_sandbox/faults", json=body)
    assert response.status_code == 400
    assert response.json()["error"]


async def test_fault_scoping_by_tenant_and_product(
    admin: tuple[SandboxApp, httpx.AsyncClient],
) -> None:
    app, client = admin
    app.add_fault(Fault(kind="server_error", tenant="acme", product="matrix"))
    headers = {"Authorization": API_KEY}
    assert (await client.get("/t/acme/matrix/api/v1/users", headers=headers)).status_code == 500
    assert (
        await client.get("/t/acme/contact_center/api/v1/users", headers=headers)
    ).status_code == 200
    assert (await client.get("/t/beta/matrix/api/v1/users", headers=headers)).status_code == 200


async def test_unknown_routes_and_tenants_are_404(
    admin: tuple[SandboxApp, httpx.AsyncClient],
) -> None:
    _, client = admin
    headers = {"Authorization": API_KEY}
    assert (await client.get("/t/acme/skype/api/v1/users", headers=headers)).status_code == 404
    assert (await client.get('/t/ac"me/matrix/api/v1/users', headers=headers)).status_code == 404
    assert (await client.get("/nothing")).status_code == 404
    assert (await client.get("/healthz")).json() == {"ok": True}


async def test_token_exchange(admin: tuple[SandboxApp, httpx.AsyncClient]) -> None:
    _, client = admin
    path = "/t/acme/axiom/api/v1/auth/token"
    bad = await client.post(path, json={"apiKey": "wrong", "email": "a@b.example"})
    good = await client.post(path, json={"apiKey": API_KEY, "email": "a@b.example"})
    assert bad.status_code == 401
    assert good.json()["expiresIn"] == 10800
    token = good.json()["accessToken"]
    users = "/t/acme/axiom/api/v1/users"
    assert (await client.get(users, headers={"Authorization": token})).status_code == 200
    assert (
        await client.get(users, headers={"Authorization": f"Bearer {token}"})
    ).status_code == 401
    assert (
        await client.get("/t/beta/axiom/api/v1/users", headers={"Authorization": token})
    ).status_code == 401


def test_users_are_deterministic_and_vary_by_account() -> None:
    first, second = SandboxApp(), SandboxApp()
    assert first.users("acme", "axiom") == second.users("acme", "axiom")
    assert first.users("acme", "axiom") != first.users("beta", "axiom")
    config = SandboxConfig()
    for tenant in ("a", "b", "c", "d"):
        assert config.min_users <= len(first.users(tenant, "matrix")) <= config.max_users
    assert DEFAULT_API_KEY not in repr(config)


def test_fault_options_from_the_command_line() -> None:
    fault = Fault.parse_option("rate_limit:times=1,retry_after=2,tenant=acme")
    assert fault == Fault(kind="rate_limit", times=1, retry_after=2, tenant="acme")
    assert Fault.parse_option("broken_page").page == 2
    with pytest.raises(SandboxRequestError):
        Fault.parse_option("flood")


def test_accounts_file() -> None:
    accounts = load_accounts_file([{"tenant": "acme", "product": "axiom", "users": 4, "seed": 9}])
    assert accounts[("acme", "axiom")].users == 4
    with pytest.raises(SandboxRequestError):
        load_accounts_file({"tenant": "acme"})
    with pytest.raises(SandboxRequestError):
        load_accounts_file([{"tenant": "acme", "product": "fax", "users": 1}])


async def test_lifespan_is_acknowledged() -> None:
    app = SandboxApp()
    incoming = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return incoming.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(dict(message))

    await app({"type": "lifespan"}, receive, send)
    assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]


# --- the defaults agree with examples/accounts.yml ---------------------------------------------

EXAMPLE_FILE = Path(__file__).resolve().parents[2] / "examples" / "accounts.yml"
EXAMPLE_SANDBOX = "http://127.0.0.1:8765/t/"


def example_sandbox_accounts() -> dict[tuple[str, str], tuple[int, dict[str, Any]]]:
    """(tenant, product) → (billed seats, connection options) for every subscription of the
    example file whose platform is read from the sandbox."""
    document = yaml.safe_load(EXAMPLE_FILE.read_text(encoding="utf-8"))
    found = {}
    for account in document["accounts"]:
        seats = {s["product"]: s["seats"] for s in account["subscriptions"]}
        for platform in account.get("platforms", []):
            base_url = platform.get("base_url") or ""
            if platform["kind"] == "api" and base_url.startswith(EXAMPLE_SANDBOX):
                tenant, product = base_url.removeprefix(EXAMPLE_SANDBOX).split("/")
                assert product == platform["product"]
                found[(tenant, product)] = (seats[product], platform.get("options", {}))
    return found


def test_every_sandbox_account_of_the_example_has_fewer_users_than_seats() -> None:
    examples = example_sandbox_accounts()
    assert set(examples) == set(EXAMPLE_ACCOUNTS)
    assert set(examples) == {
        ("acme", "contact_center"),
        ("acme", "axiom"),
        ("initech", "matrix"),
    }
    app = SandboxApp()  # the defaults of `seatbot sandbox`
    for (tenant, product), (seats, _) in examples.items():
        assert 0 < len(app.users(tenant, product)) < seats, (tenant, product)
    counts = {key: len(app.users(*key)) for key in examples}
    assert counts == {
        ("acme", "contact_center"): 23,
        ("acme", "axiom"): 11,
        ("initech", "matrix"): 2,
    }


def test_configured_accounts_and_set_account_win_over_the_example_defaults() -> None:
    config = SandboxConfig(accounts={("acme", "axiom"): AccountSettings(users=40, seed=1)})
    app = SandboxApp(config)
    assert len(app.users("acme", "axiom")) == 40
    app.set_account("acme", "contact_center", users=3)
    assert len(app.users("acme", "contact_center")) == 3
    assert len(app.users("initech", "matrix")) == 2


def test_other_accounts_get_a_count_derived_from_their_name() -> None:
    config = SandboxConfig(min_users=2, max_users=9)
    counts = {len(SandboxApp(config).users(t, "axiom")) for t in ("a", "b", "c", "d", "e", "f")}
    assert counts <= set(range(2, 10))
    assert len(counts) > 1
    assert SandboxApp(config).users("zeta", "axiom") == SandboxApp(config).users("zeta", "axiom")


async def example_listing(tenant: str, product: str) -> UserListing:
    """What Seatbot reads, with the example file's connection, from a default sandbox."""
    _, options = example_sandbox_accounts()[(tenant, product)]
    connection = PlatformConnection(
        product=Product(product),
        base_url=f"http://sandbox.test/t/{tenant}/{product}",
        token=options.get("token"),
        api_key=options.get("api_key"),
        login_email=options.get("login_email"),
    )
    platform = build_platform(connection, transport=httpx.ASGITransport(app=SandboxApp()))
    try:
        return await read_listing(platform, connection.product, deadline_s=5)
    finally:
        await platform.aclose()


async def test_a_newcomers_first_quotes_tell_a_sensible_story() -> None:
    listing = await example_listing("acme", "contact_center")
    assert check_seat_change(25, 24, listing).verdict is DecreaseVerdict.ALLOWED
    blocked = check_seat_change(25, 20, listing)
    assert blocked.verdict is DecreaseVerdict.BLOCKED
    assert blocked.must_delete == 3
    assert len(blocked.blocking_users) == 3
    axiom = await example_listing("acme", "axiom")
    assert check_seat_change(12, 11, axiom).verdict is DecreaseVerdict.ALLOWED
    assert check_seat_change(12, 10, axiom).must_delete == 1
    matrix = await example_listing("initech", "matrix")
    assert check_seat_change(3, 2, matrix).verdict is DecreaseVerdict.ALLOWED
    assert check_seat_change(3, 1, matrix).must_delete == 1


def test_names_stay_importable_from_platforms_sandbox() -> None:
    # Other branches import these from platforms.sandbox; the split must not move them away.
    import platforms.sandbox

    for name in (
        "DEFAULT_API_KEY",
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
    ):
        assert hasattr(platforms.sandbox, name), name
