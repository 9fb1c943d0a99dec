"""Reading what Slack sent: total functions, whatever a signed request carries."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing.access import Caller
from billing.approvals.rules import ClickedMessage
from billing.products import Product
from handlers.payloads import (
    ModalContext,
    RequestRef,
    caller_of_command,
    caller_of_interaction,
    clicked_message,
    positive_id,
    request_ref,
    request_ref_value,
    seat_count,
)

CONTEXT = ModalContext(7, "C1", {"11": (Product.AXIOM, 10), "12": (Product.MATRIX, 0)})

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4)
    ),
    max_leaves=12,
)


def test_metadata_round_trips_and_fits() -> None:
    text = CONTEXT.dumps()
    assert ModalContext.loads(text) == CONTEXT
    assert len(text) < 3000


@pytest.mark.parametrize(
    "text",
    [
        '{"a": "x", "s": 5}',
        "[]",
        "not json",
        '{"a": 1, "c": 7, "s": {"1": "axiom"}}',
        '{"a": 1, "c": null, "s": {"1": ["nope", 3]}}',
        '{"a": 1, "c": null, "s": {"1": ["axiom", -3]}}',
        '{"a": 1, "c": null, "s": {"x": ["axiom", 3]}}',
        '{"a": true, "c": null, "s": {"1": ["axiom", 3]}}',
        '{"a": 1, "c": "<!channel>", "s": {"1": ["axiom", 3]}}',
        "null",
        "x" * 4000,
        '{"a": 2147483648, "c": null, "s": {"1": ["axiom", 3]}}',
        '{"a": 1000000000000000000000000000000, "c": null, "s": {"1": ["axiom", 3]}}',
        '{"a": 1, "c": null, "s": {"2147483648": ["axiom", 3]}}',
    ],
)
def test_garbled_metadata_is_none(text: str) -> None:
    assert ModalContext.loads(text) is None


@given(json_values)
def test_metadata_reading_never_raises(value: Any) -> None:
    import json

    ModalContext.loads(json.dumps(value))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("42.3", RequestRef(42, 3)),
        ("42", RequestRef(42, 0)),  # a button from before revisions: never matches
        ("0", None),
        ("-1", None),
        ("1.0", None),
        ("1.1.1", None),
        ("1e9", None),
        ("٣", None),
        ("x" * 5000, None),
        ("9" * 19, None),
        ("2147483647.1", RequestRef(2**31 - 1, 1)),  # the largest database id
        ("2147483648.1", None),  # past it: PostgreSQL refuses to compare it with an id
        ("999999999999999999", None),
        (7, None),
        (None, None),
    ],
)
def test_request_refs(value: object, expected: RequestRef | None) -> None:
    assert request_ref(value) == expected


@pytest.mark.parametrize(
    ("text", "expected"), [("17", 17), ("2147483647", 2**31 - 1), ("2147483648", None), ("0", None)]
)
def test_positive_ids_are_ids_a_database_can_hold(text: str, expected: int | None) -> None:
    assert positive_id(text) == expected


def test_a_request_ref_round_trips() -> None:
    assert request_ref(request_ref_value(17, 4)) == RequestRef(17, 4)


@given(st.text(max_size=12))
def test_seat_count_accepts_only_whole_numbers_in_range(text: str) -> None:
    value = seat_count(text)
    if value is not None:
        assert 0 <= value <= 999_999
        assert text.strip().isascii()


@pytest.mark.parametrize(
    ("body", "caller"),
    [
        ({"team": {"id": "T1"}, "user": {"id": "U1"}}, Caller("T1", "U1")),
        ({"team": {"id": "T1"}}, None),
        ({"team": {"id": 5}, "user": {"id": "U1"}}, None),
        ({"team": "T1", "user": "U1"}, None),
        ({"team": {"id": "T1"}, "user": {"id": "<!channel>"}}, None),
        ({}, None),
    ],
)
def test_callers_of_interactions(body: dict[str, Any], caller: Caller | None) -> None:
    assert caller_of_interaction(body) == caller


def test_callers_of_commands() -> None:
    assert caller_of_command({"team_id": "T1", "user_id": "U1"}) == Caller("T1", "U1")
    assert caller_of_command({"team_id": "T1"}) is None
    assert caller_of_command({"team_id": ["T1"], "user_id": "U1"}) is None


def _container(**fields: Any) -> dict[str, Any]:
    return {"container": {"type": "message", **fields}}


@pytest.mark.parametrize(
    ("body", "clicked"),
    [
        (
            _container(channel_id="C_APPROVALS", message_ts="1700000000.000100"),
            ClickedMessage("C_APPROVALS", "1700000000.000100"),
        ),
        (
            _container(channel_id="D1", message_ts="1.2", is_ephemeral=True),
            ClickedMessage("D1", "1.2", ephemeral=True),
        ),
        (
            _container(channel_id="D1", message_ts="1.2", is_ephemeral="yes"),
            ClickedMessage("D1", "1.2"),
        ),
        ({"container": {"type": "view", "view_id": "V1"}}, None),
        (_container(channel_id="D1"), None),
        (_container(channel_id="<!channel>", message_ts="1.2"), None),
        (_container(channel_id="D1", message_ts="1.2; drop"), None),
        (_container(channel_id="D1", message_ts=1.2), None),
        ({"container": "message"}, None),
        ({}, None),
    ],
)
def test_the_clicked_message(body: dict[str, Any], clicked: ClickedMessage | None) -> None:
    assert clicked_message(body) == clicked


@given(json_values)
def test_reading_the_clicked_message_never_raises(value: Any) -> None:
    clicked_message({"container": value})
