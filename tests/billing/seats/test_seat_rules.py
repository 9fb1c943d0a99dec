"""The seat-change rules as pure functions: targets, counts, reasons, staleness, Confirm."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing.errors import InvalidInput, InvalidSeatCount, QuoteUnavailable
from billing.formatting import UTC_ZONE
from billing.periods import Period
from billing.products import MAX_SEATS, Product
from billing.requests import RequestStatus
from billing.seats.decrease import check_seat_change
from billing.seats.rules import (
    ChangeMode,
    ConfirmFacts,
    Staleness,
    Step,
    check_quote_instant,
    clean_reason,
    confirm_step,
    seat_count_problem,
    staleness,
    target_seats,
)
from billing.users import UserListing

JAN = Period(datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC))
AT = datetime(2026, 1, 16, tzinfo=UTC)


@given(
    st.integers(0, MAX_SEATS),
    st.sampled_from(list(ChangeMode)),
    st.integers(0, MAX_SEATS),
)
def test_target_seats(current: int, mode: ChangeMode, count: int) -> None:
    expected = {
        ChangeMode.ADD: current + count,
        ChangeMode.REMOVE: current - count,
        ChangeMode.SET: count,
    }[mode]
    if 0 <= expected <= MAX_SEATS and expected != current:
        assert target_seats(mode, count, current, Product.AXIOM) == expected
    else:
        with pytest.raises(InvalidSeatCount):
            target_seats(mode, count, current, Product.AXIOM)


@pytest.mark.parametrize(
    ("mode", "verb"), [(ChangeMode.ADD, "Adding"), (ChangeMode.REMOVE, "Removing")]
)
def test_adding_or_removing_nothing_says_so(mode: ChangeMode, verb: str) -> None:
    with pytest.raises(InvalidSeatCount, match=f"{verb} 0 seats changes nothing"):
        target_seats(mode, 0, 12, Product.AXIOM)


def test_a_decrease_below_the_known_users_is_refused_with_what_to_do() -> None:
    problem = seat_count_problem(5, 12, Product.AXIOM, users=8)
    assert problem == (
        "8 users exist on Axiom: delete 3 of them there first, or choose 8 seats or more."
    )
    assert seat_count_problem(8, 12, Product.AXIOM, users=8) is None
    assert seat_count_problem(13, 12, Product.AXIOM, users=20) is None  # an increase
    assert seat_count_problem(5, 12, Product.AXIOM, users=None) is None  # not known: billing asks


def test_removing_more_than_there_is_says_how_many_can_go() -> None:
    with pytest.raises(InvalidSeatCount, match="Axiom has 3 seats, so at most 3 can be removed"):
        target_seats(ChangeMode.REMOVE, 4, 3, Product.AXIOM)


@pytest.mark.parametrize(
    ("new", "problem"),
    [(-1, "negative"), (MAX_SEATS + 1, "At most 10,000"), (10, "already has 10"), (11, None)],
)
def test_seat_count_problem(new: int, problem: str | None) -> None:
    found = seat_count_problem(new, 10, Product.MATRIX)
    assert (found is None) == (problem is None)
    if problem is not None:
        assert found is not None
        assert problem in found


def test_reasons_are_stripped_and_bounded() -> None:
    assert clean_reason("  hires  ") == "hires"
    assert clean_reason("x" * 500) == "x" * 500
    with pytest.raises(InvalidInput):
        clean_reason("x" * 501)


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("before\x00after", "before after"),  # PostgreSQL cannot store NUL in text
        ("\x00", ""),
        ("two\nlines\r\n\tand a tab", "two lines and a tab"),
        ("bell\x07 del\x7f c1\x85 end", "bell del c1 end"),
        ("lone \ud800 surrogate", "lone surrogate"),  # not UTF-8: no database takes it
        ("  many   spaces  ", "many spaces"),
        ("café €5 😀", "café €5 😀"),
    ],
)
def test_reasons_keep_no_control_characters(typed: str, stored: str) -> None:
    assert clean_reason(typed) == stored


def test_a_reason_is_bounded_after_cleaning() -> None:
    assert clean_reason("x" * 500 + "\x00" * 10) == "x" * 500


def test_quotes_only_within_the_subscriptions_life() -> None:
    check_quote_instant(AT, started_at=JAN.start, current=JAN, tz=UTC_ZONE)
    with pytest.raises(QuoteUnavailable, match=r"started on 1 Jan 2026 \(UTC\)"):
        check_quote_instant(
            JAN.start - timedelta(seconds=1), started_at=JAN.start, current=JAN, tz=UTC_ZONE
        )
    with pytest.raises(
        QuoteUnavailable, match=r"current billing period can be priced; its last day is 31 Jan 2026"
    ):
        check_quote_instant(JAN.end, started_at=JAN.start, current=JAN, tz=UTC_ZONE)


def test_the_bounds_of_a_quote_are_days_in_the_accounts_zone() -> None:
    # Tokyo's December: [30 Nov 15:00Z, 31 Dec 15:00Z). In UTC the start is "30 Nov" and the
    # exclusive end "31 Dec"; the account reads 1 Dec and its last day, 31 Dec.
    tokyo = ZoneInfo("Asia/Tokyo")
    december = Period(
        datetime(2026, 11, 30, 15, tzinfo=UTC), datetime(2026, 12, 31, 15, tzinfo=UTC)
    )
    with pytest.raises(QuoteUnavailable) as before:
        check_quote_instant(
            december.start - timedelta(hours=1),
            started_at=december.start,
            current=december,
            tz=tokyo,
        )
    assert "started on 1 Dec 2026 (Asia/Tokyo)" in before.value.message
    with pytest.raises(QuoteUnavailable) as after:
        check_quote_instant(december.end, started_at=december.start, current=december, tz=tokyo)
    assert "its last day is 31 Dec 2026 (Asia/Tokyo)" in after.value.message
    for error in (before.value, after.value):
        assert "2026-" not in error.message


@pytest.mark.parametrize(
    ("version", "at", "expected"),
    [
        (1, AT + timedelta(minutes=5), None),
        (2, AT, Staleness.SUBSCRIPTION_CHANGED),
        (1, JAN.end, Staleness.NEW_PERIOD),
        (1, AT + timedelta(minutes=11), Staleness.EXPIRED),
    ],
)
def test_staleness(version: int, at: datetime, expected: Staleness | None) -> None:
    assert (
        staleness(
            quoted_version=1,
            quoted_period=JAN,
            quoted_at=AT,
            subscription_version=version,
            at=at,
            ttl=timedelta(minutes=10),
        )
        is expected
    )


def facts(**changes: object) -> ConfirmFacts:
    base: dict[str, object] = {
        "status": RequestStatus.DRAFT,
        "clicked_revision": 2,
        "stored_revision": 2,
        "stale": None,
        "is_decrease": False,
        "check": None,
    }
    base.update(changes)
    return ConfirmFacts(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "step"),
    [
        ({}, Step.APPLY),
        ({"status": RequestStatus.APPLIED}, Step.SETTLED),
        ({"status": RequestStatus.CANCELLED}, Step.SETTLED),
        ({"clicked_revision": 1}, Step.SHOW_CURRENT),
        ({"clicked_revision": 0}, Step.SHOW_CURRENT),
        ({"stale": Staleness.EXPIRED}, Step.REQUOTE),
        ({"is_decrease": True}, Step.NEED_USERS),
        (
            {"is_decrease": True, "check": check_seat_change(10, 8, UserListing.complete([]))},
            Step.APPLY,
        ),
        (
            {"is_decrease": True, "check": check_seat_change(10, 8, UserListing.unknown("down"))},
            Step.REFUSE,
        ),
        # An older message never applies, even when its quote would still be good.
        ({"clicked_revision": 1, "is_decrease": True}, Step.SHOW_CURRENT),
    ],
)
def test_confirm_step(changes: dict[str, object], step: Step) -> None:
    assert confirm_step(facts(**changes)) is step


@given(
    st.sampled_from(list(RequestStatus)),
    st.integers(0, 5),
    st.integers(1, 5),
    st.sampled_from([None, *Staleness]),
    st.booleans(),
    st.sampled_from([None, "allowed", "blocked", "unknown"]),
)
def test_only_a_current_good_quote_on_a_draft_applies(
    status: RequestStatus,
    clicked: int,
    stored: int,
    stale: Staleness | None,
    is_decrease: bool,
    listing: str | None,
) -> None:
    check = {
        None: None,
        "allowed": check_seat_change(10, 8, UserListing.complete([])),
        "blocked": check_seat_change(10, 0, UserListing.complete([])),
        "unknown": check_seat_change(10, 8, UserListing.unknown("down")),
    }[listing]
    step = confirm_step(
        ConfirmFacts(status, clicked, stored, stale, is_decrease, check if is_decrease else None)
    )
    if step is Step.APPLY:
        assert status is RequestStatus.DRAFT
        assert clicked == stored
        assert stale is None
        assert not is_decrease or (check is not None and check.allowed)
