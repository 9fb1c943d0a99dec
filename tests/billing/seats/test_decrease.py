"""The decrease rule, as a pure function over plain values (no platform, no database)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing.seats.decrease import NOT_ASKED, DecreaseVerdict, check_seat_change
from billing.users import Level, PlatformUser, UserListing, UserStatus


def users(count: int, inactive: int = 0) -> UserListing:
    return UserListing.complete(
        PlatformUser(
            str(ext),
            f"u{ext}@x.example",
            f"User {ext}",
            ext,
            Level.AGENT,
            UserStatus.INACTIVE if ext - 100 < inactive else UserStatus.ACTIVE,
        )
        for ext in range(100, 100 + count)
    )


def test_a_decrease_below_the_users_is_blocked_naming_the_inactive_first() -> None:
    result = check_seat_change(25, 20, users(23, inactive=2))
    assert result.verdict is DecreaseVerdict.BLOCKED
    assert (result.user_count, result.must_delete) == (23, 3)
    assert [u.status for u in result.blocking_users] == [
        UserStatus.INACTIVE,
        UserStatus.INACTIVE,
        UserStatus.ACTIVE,
    ]


def test_a_decrease_to_exactly_the_users_is_allowed() -> None:
    result = check_seat_change(25, 23, users(23))
    assert (result.verdict, result.user_count, result.blocking_users) == (
        DecreaseVerdict.ALLOWED,
        23,
        (),
    )


def test_an_unknown_listing_refuses_a_decrease_with_its_reason() -> None:
    result = check_seat_change(25, 20, UserListing.unknown("Axiom did not answer in 10 s."))
    assert result.verdict is DecreaseVerdict.UNKNOWN
    assert result.reason == "Axiom did not answer in 10 s."
    assert not result.allowed


def test_a_decrease_nobody_listed_is_unknown() -> None:
    result = check_seat_change(25, 20, None)
    assert (result.verdict, result.reason) == (DecreaseVerdict.UNKNOWN, NOT_ASKED)


def test_an_increase_is_allowed_whatever_the_platform_said() -> None:
    assert check_seat_change(5, 6, None).allowed
    assert check_seat_change(5, 6, UserListing.unknown("down")).user_count is None
    assert check_seat_change(5, 6, users(40)).user_count == 40


@pytest.mark.parametrize(("current", "new"), [(-1, 3), (3, -1)])
def test_negative_seat_counts_are_rejected(current: int, new: int) -> None:
    with pytest.raises(ValueError, match="negative"):
        check_seat_change(current, new, None)


def test_a_listing_has_users_or_a_problem() -> None:
    with pytest.raises(ValueError, match="either"):
        UserListing(None, None)
    with pytest.raises(ValueError, match="either"):
        UserListing((), "and a problem")


@given(
    st.integers(0, 60),
    st.integers(0, 60),
    st.one_of(st.none(), st.integers(0, 60)),
)
def test_allowed_exactly_when_every_user_keeps_a_seat(
    current: int, new: int, existing: int | None
) -> None:
    listing = None if existing is None else users(existing)
    result = check_seat_change(current, new, listing)
    if new >= current:
        assert result.verdict is DecreaseVerdict.ALLOWED
    elif existing is None:
        assert result.verdict is DecreaseVerdict.UNKNOWN
    elif existing <= new:
        assert result.verdict is DecreaseVerdict.ALLOWED
    else:
        assert result.verdict is DecreaseVerdict.BLOCKED
        assert result.must_delete == existing - new == len(result.blocking_users)
