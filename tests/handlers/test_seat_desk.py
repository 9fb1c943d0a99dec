"""Pure parts of the desk: the form's checks in the ack, error rendering."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from billing.access import AmbiguousAccount
from billing.errors import NotAuthorised
from billing.products import MAX_SEATS, Product
from handlers import ids
from handlers.payloads import ModalContext
from handlers.seat_desk import Submission, read_submission, user_facing
from handlers.views import Message

CONTEXT = ModalContext(7, "C1", {"11": (Product.AXIOM, 10), "12": (Product.MATRIX, 0)})


def state(subscription: str | None, count: str | None, reason: Any = None) -> dict[str, Any]:
    option = None if subscription is None else {"value": subscription, "text": {"text": "x"}}
    return {
        ids.PRODUCT_BLOCK: {ids.PRODUCT_ACTION: {"selected_option": option}},
        ids.COUNT_BLOCK: {ids.COUNT_ACTION: {"value": count}},
        ids.REASON_BLOCK: {ids.REASON_ACTION: {"value": reason}},
    }


def test_valid_submission() -> None:
    result = read_submission(CONTEXT.dumps(), state("11", " 12 ", " more agents "))
    assert result == Submission(CONTEXT, 11, 12, "more agents")


@pytest.mark.parametrize(
    ("subscription", "count", "reason", "block"),
    [
        (None, "3", None, ids.PRODUCT_BLOCK),
        ("99", "3", None, ids.PRODUCT_BLOCK),  # not one of the offered subscriptions
        ("11", None, None, ids.COUNT_BLOCK),
        ("11", "-1", None, ids.COUNT_BLOCK),
        ("11", "2.5", None, ids.COUNT_BLOCK),
        ("11", str(MAX_SEATS + 1), None, ids.COUNT_BLOCK),
        ("11", "10", None, ids.COUNT_BLOCK),  # unchanged
        ("11", "12", "x" * 501, ids.REASON_BLOCK),  # too long: said, never dropped
    ],
)
def test_invalid_submissions_name_the_field(
    subscription: str | None, count: str | None, reason: str | None, block: str
) -> None:
    result = read_submission(CONTEXT.dumps(), state(subscription, count, reason))
    assert isinstance(result, dict)
    assert list(result) == [block]


@pytest.mark.parametrize("metadata", ["{not json", None, 7, "[]", '{"a": 1}'])
@pytest.mark.parametrize("values", [None, [], {"x": 1}, state("11", "3")])
def test_garbled_forms_are_a_field_error_not_a_crash(metadata: Any, values: Any) -> None:
    result = read_submission(metadata, values)
    assert isinstance(result, dict)


async def test_user_facing_errors_show_their_message_and_whom_to_ask() -> None:
    async def refuse() -> Message:
        raise NotAuthorised("Only the owners of Acme can change seats.", contacts=["U1", "U2"])

    message = await user_facing(refuse())
    assert isinstance(message, Message)
    assert message.text == "Only the owners of Acme can change seats."
    shown = message.blocks[0].to_dict()["text"]["text"]
    assert "Ask <@U1>, <@U2>." in shown


async def test_an_ambiguous_account_says_how_to_choose() -> None:
    async def ambiguous() -> Message:
        raise AmbiguousAccount(["acme", "initech"])

    message = await user_facing(ambiguous())
    assert isinstance(message, Message)
    assert "status account acme" in message.blocks[0].to_dict()["text"]["text"]


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
