"""Pure parts of the desk: modal metadata, submission validation, error rendering."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing.errors import NotAuthorised
from billing.products import MAX_SEATS
from handlers import ids
from handlers.seat_desk import ModalContext, Submission, parse_count, read_submission, user_facing
from handlers.views import Message
from platforms.types import Product

CONTEXT = ModalContext(7, "C1", {"11": (Product.AXIOM, 10), "12": (Product.MATRIX, 0)})


def state(subscription: str | None, count: str | None, reason: str | None = None) -> dict[str, Any]:
    option = None if subscription is None else {"value": subscription, "text": {"text": "x"}}
    return {
        ids.PRODUCT_BLOCK: {ids.PRODUCT_ACTION: {"selected_option": option}},
        ids.COUNT_BLOCK: {ids.COUNT_ACTION: {"value": count}},
        ids.REASON_BLOCK: {ids.REASON_ACTION: {"value": reason}},
    }


def test_metadata_round_trips_and_fits() -> None:
    text = CONTEXT.dumps()
    assert ModalContext.loads(text) == CONTEXT
    assert len(text) < 3000


def test_valid_submission() -> None:
    result = read_submission(CONTEXT.dumps(), state("11", " 12 ", " more agents "))
    assert result == Submission(CONTEXT, 11, 12, "more agents")


@pytest.mark.parametrize(
    ("subscription", "count", "block"),
    [
        (None, "3", ids.PRODUCT_BLOCK),
        ("99", "3", ids.PRODUCT_BLOCK),  # not one of the offered subscriptions
        ("11", None, ids.COUNT_BLOCK),
        ("11", "-1", ids.COUNT_BLOCK),
        ("11", "2.5", ids.COUNT_BLOCK),
        ("11", str(MAX_SEATS + 1), ids.COUNT_BLOCK),
        ("11", "10", ids.COUNT_BLOCK),  # unchanged
    ],
)
def test_invalid_submissions_name_the_field(
    subscription: str | None, count: str | None, block: str
) -> None:
    result = read_submission(CONTEXT.dumps(), state(subscription, count))
    assert isinstance(result, dict)
    assert list(result) == [block]


def test_garbled_metadata_is_a_field_error_not_a_crash() -> None:
    result = read_submission("{not json", state("11", "3"))
    assert isinstance(result, dict)
    assert ids.PRODUCT_BLOCK in result


@given(st.text(max_size=12))
def test_parse_count_accepts_only_whole_numbers_in_range(text: str) -> None:
    value = parse_count(text)
    if value is not None:
        assert 0 <= value <= MAX_SEATS
        assert str(value) == text.strip().lstrip("0") or value == 0


async def test_user_facing_errors_show_their_message() -> None:
    async def refuse() -> Message:
        raise NotAuthorised("Only an owner of Acme can request a seat change.")

    message = await user_facing(refuse())
    assert isinstance(message, Message)
    assert message.text == "Only an owner of Acme can request a seat change."


async def test_unexpected_errors_show_only_a_reference(caplog: pytest.LogCaptureFixture) -> None:
    async def crash() -> Message:
        raise RuntimeError("xoxb-secret-token leaked in an exception")

    with caplog.at_level(logging.ERROR):
        message = await user_facing(crash())
    assert isinstance(message, Message)
    assert "xoxb" not in message.text
    assert "RuntimeError" not in message.text
    [record] = caplog.records
    reference = record.getMessage().split("reference ")[1].rstrip(")")
    assert f"`{reference}`" in message.text
