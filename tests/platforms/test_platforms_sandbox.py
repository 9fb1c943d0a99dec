"""The sandbox server's own surface: admin endpoints, fault switches, determinism, ASGI."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from platform_fakes import API_KEY

from platforms.sandbox import (
    DEFAULT_API_KEY,
    Fault,
    SandboxApp,
    SandboxConfig,
    SandboxRequestError,
    load_accounts_file,
)


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
