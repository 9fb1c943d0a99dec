"""Pure parts of the desk: the form's checks in the ack."""

from __future__ import annotations

from typing import Any

import pytest

from billing.products import MAX_SEATS, Product
from handlers import ids
from handlers.payloads import ModalContext
from handlers.seat_desk import Submission, read_submission

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
