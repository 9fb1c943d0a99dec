"""Reading user listings (``platforms.guard``) and deciding with them (``billing.seats.decrease``),
against the sandbox and against hand-made platforms."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

import httpx
import pytest
from platform_fakes import API_KEY, RecordingSleep, connection_for

from billing.seats.decrease import DecreaseVerdict as Verdict
from billing.seats.decrease import SeatCheck, deletion_candidate_order
from billing.seats.decrease import check_seat_change as decide
from platforms.connection import RetryPolicy, Timeouts
from platforms.factory import build_platform
from platforms.guard import read_listing
from platforms.sandbox import Fault, SandboxApp, SandboxConfig
from platforms.types import Level, Platform, PlatformUser, Product, UserStatus

TENANT = "acme"


def sandbox(users: int = 30) -> SandboxApp:
    app = SandboxApp(SandboxConfig(api_key=API_KEY))
    for product in Product:
        app.set_account(TENANT, product, users=users, seed=5)
    return app


def platform_on(app: SandboxApp, product: Product, sleep: RecordingSleep | None = None) -> Platform:
    connection = connection_for(
        product,
        f"http://sandbox.test/t/{TENANT}/{product}",
        timeouts=Timeouts(listing_deadline_s=0.5),
        retry=RetryPolicy(max_attempts=3, backoff_initial_s=0.01, backoff_max_s=0.02),
    )
    return build_platform(
        connection, transport=httpx.ASGITransport(app=app), sleep=sleep or RecordingSleep()
    )


def sandbox_user(raw: dict[str, object]) -> PlatformUser:
    def instant(value: object) -> datetime | None:
        return None if value is None else datetime.fromisoformat(str(value))

    return PlatformUser(
        platform_id=str(raw["id"]),
        email=str(raw["email"]),
        name=str(raw["name"]),
        extension=int(str(raw["extension"])),
        level=Level(raw["level"]),
        status=UserStatus(raw["status"]),
        created_at=instant(raw["createdAt"]),
        last_active_at=instant(raw["lastActiveAt"]),
    )


async def check_seat_change(
    platform: Platform | None, current: int, new: int, *, deadline_s: float
) -> SeatCheck:
    """What the Slack edge and the CLI do: read the listing, then let the rule decide."""
    product = platform.product if platform is not None else Product.AXIOM
    return decide(current, new, await read_listing(platform, product, deadline_s))


FAULTS = [
    Fault(kind="rate_limit"),
    Fault(kind="server_error"),
    Fault(kind="expired_token"),
    Fault(kind="broken_page", page=1),
    Fault(kind="malformed_json"),
    Fault(kind="slow_page", ms=60_000),
]


@pytest.mark.parametrize("product", list(Product))
@pytest.mark.parametrize("fault", FAULTS, ids=[f.kind for f in FAULTS])
async def test_every_fault_makes_a_decrease_unknown(fault: Fault, product: Product) -> None:
    app = sandbox()
    app.add_fault(fault)
    platform = platform_on(app, product)
    result = await check_seat_change(platform, 40, 35, deadline_s=5)
    await platform.aclose()
    assert result.verdict is Verdict.UNKNOWN
    assert not result.allowed
    assert result.user_count is None
    assert result.reason is not None
    assert product.label in result.reason
    assert "nothing was changed" in result.reason
    assert API_KEY not in result.reason


@pytest.mark.parametrize("fault", FAULTS, ids=[f.kind for f in FAULTS])
async def test_an_increase_is_allowed_even_when_the_platform_fails(fault: Fault) -> None:
    app = sandbox()
    app.add_fault(fault)
    platform = platform_on(app, Product.AXIOM)
    result = await check_seat_change(platform, 40, 45, deadline_s=5)
    await platform.aclose()
    assert result.verdict is Verdict.ALLOWED
    assert result.user_count is None


async def test_an_increase_reports_the_user_count() -> None:
    platform = platform_on(sandbox(users=30), Product.MATRIX)
    result = await check_seat_change(platform, 30, 31, deadline_s=5)
    await platform.aclose()
    assert (result.verdict, result.user_count, result.must_delete) == (Verdict.ALLOWED, 30, 0)


@pytest.mark.parametrize(
    ("fault", "expected_sleeps"),
    [
        (Fault(kind="rate_limit", times=1, retry_after=1), [1.0]),
        (Fault(kind="server_error", times=1), None),
    ],
    ids=["429-once", "500-once"],
)
async def test_faults_that_clear_within_the_retries_give_the_right_answer(
    fault: Fault, expected_sleeps: list[float] | None
) -> None:
    app = sandbox(users=30)
    app.add_fault(fault)
    sleep = RecordingSleep()
    platform = platform_on(app, Product.AXIOM, sleep)
    blocked = await check_seat_change(platform, 30, 28, deadline_s=5)
    await platform.aclose()
    assert (blocked.verdict, blocked.user_count, blocked.must_delete) == (Verdict.BLOCKED, 30, 2)
    assert len(sleep.calls) == 1
    if expected_sleeps is not None:
        assert sleep.calls == expected_sleeps  # waited as the Retry-After told


async def test_blocked_lists_the_surplus_inactive_first_then_deleting_them_allows() -> None:
    app = sandbox(users=30)
    product = Product.CONTACT_CENTER
    all_users = [sandbox_user(raw) for raw in app.users(TENANT, product)]
    inactive = [user for user in all_users if user.status is UserStatus.INACTIVE]
    assert 2 <= len(inactive) < 6  # the seed gives a few inactive users: the test needs some
    platform = platform_on(app, product)

    result = await check_seat_change(platform, 30, 24, deadline_s=5)
    assert result.verdict is Verdict.BLOCKED
    assert (result.user_count, result.must_delete) == (30, 6)
    assert result.blocking_users == tuple(sorted(all_users, key=deletion_candidate_order)[:6])
    assert set(result.blocking_users[: len(inactive)]) == set(inactive)
    assert all(u.status is UserStatus.ACTIVE for u in result.blocking_users[len(inactive) :])

    # The owner deletes them on the platform (the sandbox's admin endpoint), then checks again.
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://sandbox.test"
    ) as admin:
        for user in result.blocking_users:
            response = await admin.delete(
                f"/_sandbox/accounts/{TENANT}/{product}/users/{user.platform_id}"
            )
            assert response.status_code == 204
    again = await check_seat_change(platform, 30, 24, deadline_s=5)
    await platform.aclose()
    assert (again.verdict, again.user_count, again.blocking_users) == (Verdict.ALLOWED, 24, ())


async def test_decrease_to_exactly_the_user_count_is_allowed() -> None:
    platform = platform_on(sandbox(users=30), Product.AXIOM)
    result = await check_seat_change(platform, 35, 30, deadline_s=5)
    await platform.aclose()
    assert (result.verdict, result.user_count) == (Verdict.ALLOWED, 30)


async def test_no_platform_connection_refuses_a_decrease_but_not_an_increase() -> None:
    decrease = await check_seat_change(None, 10, 9, deadline_s=1)
    increase = await check_seat_change(None, 10, 11, deadline_s=1)
    assert decrease.verdict is Verdict.UNKNOWN
    assert decrease.reason is not None
    assert "No Axiom connection is set up" in decrease.reason
    assert (increase.verdict, increase.user_count) == (Verdict.ALLOWED, None)


class NeverAnswers:
    """A platform whose listing never completes."""

    product = Product.AXIOM
    label = "Axiom"

    async def list_users(self) -> list[PlatformUser]:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    async def aclose(self) -> None:
        """Nothing to close."""


class Explodes(NeverAnswers):
    async def list_users(self) -> list[PlatformUser]:
        raise KeyError("internal bug")


async def test_guard_deadline_gives_an_owner_facing_reason() -> None:
    result = await check_seat_change(NeverAnswers(), 10, 5, deadline_s=0.05)
    assert result.verdict is Verdict.UNKNOWN
    assert result.reason == "Axiom did not answer in 0.05 s; nothing was changed; try again."


async def test_an_unexpected_failure_fails_closed_and_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    result = await check_seat_change(Explodes(), 10, 5, deadline_s=1)
    assert result.verdict is Verdict.UNKNOWN
    assert "internal error" in (result.reason or "")
    assert "KeyError" in caplog.text


@pytest.mark.parametrize(("current", "new"), [(-1, 3), (3, -1)])
async def test_negative_seat_counts_are_rejected(current: int, new: int) -> None:
    with pytest.raises(ValueError, match="negative"):
        await check_seat_change(None, current, new, deadline_s=1)


def test_deletion_candidate_order() -> None:
    def user(
        ext: int, status: UserStatus, level: Level = Level.AGENT, **times: datetime
    ) -> PlatformUser:
        return PlatformUser(str(ext), f"u{ext}@x.example", "", ext, level, status, **times)

    day = lambda d: datetime(2026, 11, d, tzinfo=UTC)  # noqa: E731
    active_old = user(101, UserStatus.ACTIVE, last_active_at=day(1))
    active_recent = user(102, UserStatus.ACTIVE, last_active_at=day(20))
    inactive_admin = user(103, UserStatus.INACTIVE, Level.ADMIN)
    inactive_never = user(104, UserStatus.INACTIVE, created_at=day(2))
    inactive_never_newer = user(105, UserStatus.INACTIVE, created_at=day(9))
    inactive_seen = user(106, UserStatus.INACTIVE, last_active_at=day(3))
    ordered = sorted(
        [
            active_recent,
            inactive_admin,
            active_old,
            inactive_seen,
            inactive_never,
            inactive_never_newer,
        ],
        key=deletion_candidate_order,
    )
    assert ordered == [
        inactive_never_newer,  # inactive, never active, created most recently
        inactive_never,
        inactive_seen,
        inactive_admin,  # admins last among the inactive
        active_old,
        active_recent,
    ]


async def test_guard_logs_nothing_secret(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    app = sandbox()
    app.add_fault(Fault(kind="server_error"))
    platform = platform_on(app, Product.AXIOM)
    await check_seat_change(platform, 40, 35, deadline_s=5)
    await platform.aclose()
    assert "retrying" in caplog.text
    assert API_KEY not in caplog.text
