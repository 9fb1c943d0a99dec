"""The contract every Platform implementation keeps, parametrised over all of them."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest
from platform_fakes import SECRETS, Backend, expected_user, user_json

from platforms.connection import Timeouts
from platforms.errors import (
    PlatformAuthError,
    PlatformDataError,
    PlatformError,
    PlatformRateLimited,
    PlatformUnavailable,
)
from platforms.types import Level, Platform, PlatformUser, UserStatus


def assert_no_secrets(error: BaseException, log_text: str) -> None:
    for secret in SECRETS:
        assert secret not in str(error)
        assert secret not in repr(error)
        assert secret not in getattr(error, "user_message", "")
        assert secret not in log_text


async def list_users(platform: Platform) -> list[PlatformUser]:
    try:
        return await platform.list_users()
    finally:
        await platform.aclose()


async def test_implements_the_protocol(any_backend: Backend) -> None:
    platform = any_backend.build()
    assert isinstance(platform, Platform)
    assert platform.product is any_backend.product
    assert any_backend.product.label in platform.label
    await platform.aclose()


@pytest.mark.parametrize("count", [0, 1, 99, 100, 250])
async def test_lists_every_user_across_pages(any_backend: Backend, count: int) -> None:
    expected = any_backend.populate(count)
    users = await list_users(any_backend.build())
    assert users == expected
    assert len({user.platform_id for user in users}) == count
    if any_backend.page_requests is not None:
        # Pages of 100, stopping on the first short page: 0..99 users → 1 page, 100 → 2, 250 → 3.
        assert any_backend.page_requests() == count // 100 + 1


async def test_maps_every_field(http_backend: Backend) -> None:
    expected = http_backend.populate(120)
    users = await list_users(http_backend.build())
    assert users == expected
    levels = {user.level for user in users}
    statuses = {user.status for user in users}
    assert levels == {Level.ADMIN, Level.MANAGER, Level.AGENT}
    assert statuses == {UserStatus.ACTIVE, UserStatus.INACTIVE}
    for user in users:
        assert user.created_at is not None
        assert user.created_at.tzinfo is UTC
        assert user.last_active_at is None or user.last_active_at.tzinfo is UTC


def test_fake_user_mapping_reads_codes_and_offsets() -> None:
    # The independent reading the contract compares against must itself be right.
    user = expected_user(user_json(4))
    assert user == PlatformUser(
        platform_id="1004",
        email="person4@acme.example.com",
        name="Person 4",
        extension=104,
        level=Level.AGENT,
        status=UserStatus.ACTIVE,
        created_at=datetime(2025, 1, 5, 10, tzinfo=UTC),
        last_active_at=datetime(2026, 10, 5, 8, tzinfo=UTC),
    )


# kind, times, expected error for Contact Center/Matrix, expected for Axiom (None: success)
FAULTS = [
    ("rate_limit", None, PlatformRateLimited, PlatformRateLimited),
    ("server_error", None, PlatformUnavailable, PlatformUnavailable),
    ("expired_token", None, PlatformAuthError, PlatformAuthError),
    ("expired_token", 1, PlatformAuthError, None),
    ("broken_page", None, PlatformDataError, PlatformDataError),
    ("malformed_json", None, PlatformDataError, PlatformDataError),
    ("slow_page", None, PlatformUnavailable, PlatformUnavailable),
    ("rate_limit", 1, None, None),
    ("server_error", 1, None, None),
    ("server_error", 2, None, None),
]


@pytest.mark.parametrize(
    ("kind", "times", "static_error", "axiom_error"),
    FAULTS,
    ids=[f"{kind}-x{times or 'always'}" for kind, times, *_ in FAULTS],
)
async def test_faults_map_to_the_right_error(
    http_backend: Backend,
    caplog: pytest.LogCaptureFixture,
    kind: str,
    times: int | None,
    static_error: type[PlatformError] | None,
    axiom_error: type[PlatformError] | None,
) -> None:
    caplog.set_level(logging.DEBUG)
    expected = http_backend.populate(250)
    assert http_backend.inject is not None
    # slow_page: the sandbox delays the page past the listing deadline; the fake times out.
    options = {"ms": 60_000} if kind == "slow_page" and http_backend.kind == "sandbox" else {}
    http_backend.inject(kind, times, **options)
    short_deadline = Timeouts(connect_s=1, read_s=1, listing_deadline_s=0.3)
    platform = (
        http_backend.build(timeouts=short_deadline) if kind == "slow_page" else http_backend.build()
    )
    error = axiom_error if http_backend.product == "axiom" else static_error
    if error is None:
        assert await list_users(platform) == expected
        return
    with pytest.raises(error) as caught:
        await list_users(platform)
    assert caught.value.user_message
    assert "nothing was changed" in caught.value.user_message
    assert caught.value.product_label == http_backend.product.label
    assert_no_secrets(caught.value, caplog.text)


async def test_wrong_credentials_are_an_auth_error(
    http_backend: Backend, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    http_backend.populate(5)
    wrong = "sk-WRONG-0000"
    overrides = {"api_key": wrong} if http_backend.product == "axiom" else {"token": wrong}
    with pytest.raises(PlatformAuthError) as caught:
        await list_users(http_backend.build(**overrides))
    assert wrong not in str(caught.value)
    assert wrong not in caplog.text
    assert_no_secrets(caught.value, caplog.text)


async def test_success_logs_no_secrets(
    http_backend: Backend, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    http_backend.populate(150)
    assert http_backend.inject is not None
    http_backend.inject("server_error", 1)
    await list_users(http_backend.build())
    assert caplog.text  # the retry was logged...
    for secret in SECRETS:
        assert secret not in caplog.text  # ...without the credentials
