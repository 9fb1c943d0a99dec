"""HTTP client behaviour beyond the contract: retries and Retry-After, Axiom's token (its auth
flow, single-flight under concurrency), the per-host concurrency bound, deadlines and real
connection failures."""

from __future__ import annotations

import asyncio
import email.utils
import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from platform_fakes import (
    API_KEY,
    LOGIN_EMAIL,
    FakeSquaretalkApi,
    RecordingSleep,
    connection_for,
    expected_user,
    mock_backend,
    sandbox_backend,
    user_json,
)

from billing.errors import ConfigurationError
from platforms.connection import HostLimits, PlatformConnection, RetryPolicy, Timeouts
from platforms.errors import (
    PlatformDataError,
    PlatformRateLimited,
    PlatformUnavailable,
)
from platforms.factory import build_platform
from platforms.http import parse_retry_after
from platforms.http_auth import AxiomTokenAuth
from platforms.sandbox import Fault, SandboxApp, SandboxConfig
from platforms.types import Platform, Product


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_retry_after_one_second_is_honoured() -> None:
    backend = sandbox_backend(Product.MATRIX)
    expected = backend.populate(150)
    assert backend.inject is not None
    backend.inject("rate_limit", 1, retry_after=1)
    platform = backend.build()
    assert await platform.list_users() == expected
    await platform.aclose()
    assert backend.sleep.calls == [1.0]


async def test_retry_after_as_http_date_is_honoured() -> None:
    backend = sandbox_backend(Product.CONTACT_CENTER)
    expected = backend.populate(10)
    assert backend.inject is not None
    backend.inject("rate_limit", 1, retry_after=3, retry_after_http_date=True)
    platform = backend.build()
    assert await platform.list_users() == expected
    await platform.aclose()
    (waited,) = backend.sleep.calls
    assert 1.0 <= waited <= 3.0  # an HTTP date has whole-second precision


async def test_retry_after_beyond_the_cap_fails_at_once() -> None:
    backend = mock_backend(Product.MATRIX)
    backend.populate(10)
    assert backend.inject is not None
    backend.inject("rate_limit", 1, retry_after=120)
    platform = backend.build(retry=RetryPolicy(max_attempts=3, retry_after_cap_s=30))
    with pytest.raises(PlatformRateLimited) as caught:
        await platform.list_users()
    await platform.aclose()
    assert backend.sleep.calls == []
    assert caught.value.retry_after_s == 120
    assert "try again in 120 s" in caught.value.user_message


async def test_backoff_without_retry_after_is_jittered_exponential_and_bounded() -> None:
    backend = mock_backend(Product.CONTACT_CENTER)
    backend.populate(10)
    assert backend.inject is not None
    backend.inject("server_error", None)
    policy = RetryPolicy(max_attempts=5, backoff_initial_s=0.5, backoff_max_s=2.0)
    platform = backend.build(retry=policy)
    with pytest.raises(PlatformUnavailable, match="5 tries"):
        await platform.list_users()
    await platform.aclose()
    # tenacity's full jitter: attempt n waits a random share of min(0.5 * 2**n, 2).
    assert len(backend.sleep.calls) == 4
    for attempt, waited in enumerate(backend.sleep.calls, start=1):
        assert 0 <= waited <= min(0.5 * 2**attempt, 2.0)


@pytest.mark.parametrize("failure", ["connect_error", "read_timeout"])
async def test_transport_failures_are_retried_then_unavailable(failure: str) -> None:
    backend = mock_backend(Product.AXIOM)
    expected = backend.populate(30)
    assert backend.inject is not None
    backend.inject(failure, 2)
    platform = backend.build()
    assert await platform.list_users() == expected
    backend.inject(failure, None)
    with pytest.raises(PlatformUnavailable):
        await platform.list_users()
    await platform.aclose()


def test_parse_retry_after() -> None:
    now = datetime(2026, 11, 28, 12, tzinfo=UTC)
    in_five = email.utils.format_datetime(now + timedelta(seconds=5), usegmt=True)
    assert parse_retry_after("7", now=now) == 7.0
    assert parse_retry_after(in_five, now=now) == 5.0
    assert parse_retry_after("Fri, 01 Jan 2010 00:00:00 GMT", now=now) == 0.0
    assert parse_retry_after("soon", now=now) is None
    assert parse_retry_after(None, now=now) is None
    assert parse_retry_after("-3", now=now) == 0.0


async def test_unreachable_host_is_unavailable() -> None:
    # Port 9 (discard) on localhost is closed on any test machine: a real connection refusal.
    transport = httpx.AsyncHTTPTransport()
    connection = connection_for(Product.MATRIX, "http://127.0.0.1:9")
    sleep = RecordingSleep()
    platform = build_platform(connection, transport=transport, sleep=sleep)
    with pytest.raises(PlatformUnavailable, match="could not reach Matrix"):
        await platform.list_users()
    await platform.aclose()
    await transport.aclose()
    assert len(sleep.calls) == 2  # three attempts


async def test_listing_deadline_bounds_the_whole_listing() -> None:
    app = SandboxApp(SandboxConfig(api_key=API_KEY, faults=[Fault(kind="latency", ms=200)]))
    backend = sandbox_backend(Product.CONTACT_CENTER, app)
    backend.populate(500)  # 6 pages × 200 ms > 0.5 s
    platform = backend.build(timeouts=Timeouts(listing_deadline_s=0.5))
    with pytest.raises(PlatformUnavailable, match=r"did not answer in 0\.5 s"):
        await platform.list_users()
    await platform.aclose()


async def test_server_capping_the_page_size_is_followed() -> None:
    app = SandboxApp(SandboxConfig(api_key=API_KEY, max_per_page=40))
    backend = sandbox_backend(Product.MATRIX, app)
    expected = backend.populate(130)
    platform = backend.build(page_size=100)
    assert await platform.list_users() == expected
    await platform.aclose()
    assert app.stats.user_pages == 4  # 40 + 40 + 40 + 10


async def test_a_server_ignoring_the_page_parameter_is_untrusted() -> None:
    def same_page_always(request: httpx.Request) -> httpx.Response:
        users = [user_json(i) for i in range(100)]
        return httpx.Response(200, json={"data": users, "page": 1, "perPage": 100})

    connection = connection_for(Product.MATRIX, "https://m.example.com")
    platform = build_platform(connection, transport=httpx.MockTransport(same_page_always))
    with pytest.raises(PlatformDataError, match="asked for page 2, got page 1"):
        await platform.list_users()
    await platform.aclose()


async def test_missing_total_and_page_echo_still_pages_to_the_end() -> None:
    users = [user_json(i) for i in range(230)]

    def bare_pages(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params["page"])
        return httpx.Response(200, json={"data": users[(page - 1) * 100 : page * 100]})

    connection = connection_for(Product.CONTACT_CENTER, "https://cc.example.com")
    platform = build_platform(connection, transport=httpx.MockTransport(bare_pages))
    assert await platform.list_users() == [expected_user(raw) for raw in users]
    await platform.aclose()


@pytest.mark.parametrize(
    ("field", "value"),
    [("email", None), ("extension", "x12"), ("level", "owner"), ("status", 2), ("id", None)],
)
async def test_a_malformed_user_is_untrusted(field: str, value: object) -> None:
    raw = user_json(1) | {field: value}

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"data": [raw], "page": 1, "perPage": 100, "total": 1})

    connection = connection_for(Product.MATRIX, "https://m.example.com")
    platform = build_platform(connection, transport=httpx.MockTransport(handler))
    with pytest.raises(PlatformDataError):
        await platform.list_users()
    await platform.aclose()


# --- Axiom's token -----------------------------------------------------------------------------


async def axiom(clock: FakeClock) -> tuple[FakeSquaretalkApi, object]:
    api = FakeSquaretalkApi(Product.AXIOM)
    api.users = [user_json(i) for i in range(120)]
    connection = connection_for(Product.AXIOM, "https://acme.axiom.example.com")
    platform = build_platform(
        connection, transport=httpx.MockTransport(api.handle), sleep=RecordingSleep(), clock=clock
    )
    return api, platform


async def test_axiom_exchanges_key_and_email_and_sends_the_raw_token() -> None:
    api, platform = await axiom(FakeClock())
    await platform.list_users()  # type: ignore[attr-defined]
    token_request, *page_requests = api.requests
    assert token_request.method == "POST"
    assert json.loads(token_request.content) == {"apiKey": API_KEY, "email": LOGIN_EMAIL}
    assert "authorization" not in token_request.headers
    assert [r.headers["authorization"] for r in page_requests] == ["access-0", "access-0"]


async def test_axiom_token_is_reused_then_refreshed_before_expiry() -> None:
    clock = FakeClock()
    api, platform = await axiom(clock)
    await platform.list_users()  # type: ignore[attr-defined]
    clock.now += 3 * 3600 - 6 * 60  # six minutes before expiry: still good
    await platform.list_users()  # type: ignore[attr-defined]
    assert api.issued_tokens == ["access-0"]
    clock.now += 2 * 60  # four minutes before expiry: inside the refresh margin
    await platform.list_users()  # type: ignore[attr-defined]
    assert api.issued_tokens == ["access-0", "access-1"]
    assert api.requests[-1].headers["authorization"] == "access-1"


async def test_axiom_refreshes_once_on_401_and_no_more() -> None:
    api, platform = await axiom(FakeClock())
    api.inject("expired_token", 1)
    assert len(await platform.list_users()) == 120  # type: ignore[attr-defined]
    assert len(api.issued_tokens) == 2
    api.inject("expired_token", None)
    with pytest.raises(Exception, match="refused Seatbot's credentials"):
        await platform.list_users()  # type: ignore[attr-defined]
    assert len(api.issued_tokens) == 3  # one refresh for this listing, not a loop


async def test_sandbox_token_expiry_is_refreshed_transparently() -> None:
    clock = FakeClock()
    app = SandboxApp(SandboxConfig(api_key=API_KEY, token_lifetime_s=600), clock=clock)
    app.set_account("acme", "axiom", users=50)
    connection = connection_for(Product.AXIOM, "http://sandbox.test/t/acme/axiom")
    platform = build_platform(connection, transport=httpx.ASGITransport(app=app), clock=clock)
    await platform.list_users()
    # The sandbox says 600 s; the client's own clock is told the same, so it refreshes early.
    clock.now += 590
    assert len(await platform.list_users()) == 50
    assert app.stats.token_exchanges == 2
    await platform.aclose()


# --- configuration and concurrency -------------------------------------------------------------


def test_connection_repr_hides_credentials() -> None:
    connection = connection_for(Product.AXIOM, "https://a.example.com")
    assert API_KEY not in repr(connection)
    assert API_KEY not in repr(connection_for(Product.MATRIX, "https://m.example.com"))


@pytest.mark.parametrize(
    "connection",
    [
        PlatformConnection(product=Product.AXIOM, base_url="https://a.example.com", api_key="k"),
        PlatformConnection(product=Product.MATRIX, base_url="https://m.example.com"),
        PlatformConnection(product=Product.MATRIX, token="t"),
        PlatformConnection(product=Product.MATRIX, base_url="https://u:p@m.example.com", token="t"),
        PlatformConnection(product=Product.MATRIX, kind="import_file"),
    ],
)
def test_incomplete_connections_are_config_errors(connection: PlatformConnection) -> None:
    with pytest.raises(ConfigurationError):
        build_platform(connection)


async def test_concurrency_is_bounded_per_host() -> None:
    in_flight: dict[str, int] = {}
    peak: dict[str, int] = {}

    async def handler(request: httpx.Request) -> httpx.Response:
        host = request.url.host
        in_flight[host] = in_flight.get(host, 0) + 1
        peak[host] = max(peak.get(host, 0), in_flight[host])
        for _ in range(5):
            await asyncio.sleep(0)  # yield, so that unbounded requests would overlap
        in_flight[host] -= 1
        return httpx.Response(200, json={"data": [user_json(1)], "perPage": 100, "total": 1})

    transport = httpx.MockTransport(handler)
    limits = HostLimits(per_host=3)
    platforms = [
        build_platform(
            connection_for(Product.MATRIX, f"https://{host}"), transport=transport, limits=limits
        )
        for host in ["one.example.com"] * 10 + ["two.example.com"] * 10
    ]
    await asyncio.gather(*(p.list_users() for p in platforms))
    await asyncio.gather(*(p.aclose() for p in platforms))
    assert peak == {"one.example.com": 3, "two.example.com": 3}


async def test_axiom_token_retries_are_not_nested_in_the_page_retries() -> None:
    api, platform = await axiom(FakeClock())
    api.inject("server_error", None)
    with pytest.raises(PlatformUnavailable, match="server error"):
        await platform.list_users()  # type: ignore[attr-defined]
    assert len(api.requests) == 3  # max_attempts token exchanges, and nothing else


# --- Axiom's auth flow under concurrency, and on its own -----------------------------------------


def yielding_api(api: FakeSquaretalkApi) -> httpx.MockTransport:
    """The fake API behind a handler that yields to the event loop first, so that concurrent
    requests really overlap (a synchronous handler would let each one finish alone)."""

    async def handler(request: httpx.Request) -> httpx.Response:
        for _ in range(5):
            await asyncio.sleep(0)
        return api.handle(request)

    return httpx.MockTransport(handler)


def axiom_platform(transport: httpx.AsyncBaseTransport, clock: FakeClock) -> Platform:
    connection = connection_for(Product.AXIOM, "https://acme.axiom.example.com")
    return build_platform(
        connection, transport=transport, limits=HostLimits(8), sleep=RecordingSleep(), clock=clock
    )


async def test_concurrent_axiom_listings_exchange_the_token_once() -> None:
    api = FakeSquaretalkApi(Product.AXIOM)
    api.users = [user_json(i) for i in range(250)]
    platform = axiom_platform(yielding_api(api), FakeClock())
    first, second, third = await asyncio.gather(*(platform.list_users() for _ in range(3)))
    await platform.aclose()
    assert len(first) == len(second) == len(third) == 250
    assert api.issued_tokens == ["access-0"]
    assert sum(r.url.path.endswith("/auth/token") for r in api.requests) == 1


async def test_concurrent_401s_refresh_the_token_once() -> None:
    clock = FakeClock()
    api = FakeSquaretalkApi(Product.AXIOM)
    api.users = [user_json(i) for i in range(50)]
    platform = axiom_platform(yielding_api(api), clock)
    await platform.list_users()
    # The platform revokes the token: the next two requests are refused with it.
    api.inject("expired_token", 2)
    results = await asyncio.gather(platform.list_users(), platform.list_users())
    await platform.aclose()
    assert [len(users) for users in results] == [50, 50]
    assert api.issued_tokens == ["access-0", "access-1"]


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        ([], "the token answer is not an object"),
        ({"expiresIn": 60}, "the token answer has no access token"),
        ({"accessToken": "t", "expiresIn": -5}, "the token answer has an invalid lifetime"),
        ({"accessToken": "t", "expiresIn": True}, "the token answer has an invalid lifetime"),
    ],
)
async def test_an_untrustworthy_token_answer_is_a_data_error(answer: object, problem: str) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=answer)

    platform = axiom_platform(httpx.MockTransport(handler), FakeClock())
    with pytest.raises(PlatformDataError) as caught:
        await platform.list_users()
    await platform.aclose()
    assert problem in caught.value.message
    assert API_KEY not in caught.value.message


async def test_token_exchange_obeys_retry_after() -> None:
    api = FakeSquaretalkApi(Product.AXIOM)
    api.users = [user_json(i) for i in range(3)]
    api.inject("rate_limit", 1, retry_after=2)  # the first request is the token exchange
    sleep = RecordingSleep()
    connection = connection_for(Product.AXIOM, "https://acme.axiom.example.com")
    platform = build_platform(connection, transport=httpx.MockTransport(api.handle), sleep=sleep)
    assert len(await platform.list_users()) == 3
    await platform.aclose()
    assert sleep.calls == [2.0]
    assert [r.url.path for r in api.requests] == ["/api/v1/auth/token"] * 2 + ["/api/v1/users"]


def test_axiom_auth_flow_drives_a_synchronous_client_too() -> None:
    api = FakeSquaretalkApi(Product.AXIOM)
    api.users = [user_json(i) for i in range(2)]
    clock = FakeClock()
    with httpx.Client(
        base_url="https://acme.axiom.example.com", transport=httpx.MockTransport(api.handle)
    ) as client:
        auth = AxiomTokenAuth(
            api_key=API_KEY,
            login_email=LOGIN_EMAIL,
            token_request=lambda body: client.build_request(
                "POST", "/api/v1/auth/token", json=body
            ),
            clock=clock,
        )
        params = {"page": 1, "perPage": 100}
        assert client.get("/api/v1/users", params=params, auth=auth).status_code == 200
        api.inject("expired_token", 1)
        assert client.get("/api/v1/users", params=params, auth=auth).status_code == 200
        api.inject("expired_token", 2)
        assert client.get("/api/v1/users", params=params, auth=auth).status_code == 401
    assert api.issued_tokens == ["access-0", "access-1", "access-2"]
    assert API_KEY not in repr(auth)


async def test_a_listing_cut_off_during_the_token_exchange_releases_it() -> None:
    app = SandboxApp(SandboxConfig(api_key=API_KEY))
    app.add_fault(Fault(kind="latency", endpoint="token", ms=60_000, times=1))
    backend = sandbox_backend(Product.AXIOM, app)
    expected = backend.populate(20)
    platform = backend.build(timeouts=Timeouts(connect_s=1, read_s=1, listing_deadline_s=0.3))
    with pytest.raises(PlatformUnavailable, match=r"did not answer in 0\.3 s"):
        await platform.list_users()
    # A lock left held by the abandoned exchange would make this listing time out too.
    assert await platform.list_users() == expected
    await platform.aclose()
    assert app.stats.token_exchanges == 1  # the first exchange never reached the handler's end


def test_names_stay_importable_from_platforms_http() -> None:
    # Other branches import these from platforms.http; the split must not move them away.
    import platforms.http

    for name in (
        "HttpPlatform",
        "StaticTokenPlatform",
        "ContactCenterPlatform",
        "AxiomPlatform",
        "MatrixPlatform",
        "parse_retry_after",
        "Sleep",
        "Clock",
        "MAX_PAGES",
    ):
        assert hasattr(platforms.http, name), name
