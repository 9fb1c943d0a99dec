"""Defects the fuzzer (:mod:`test_fuzz`) found, each reduced to the request that shows it."""

from __future__ import annotations

import json
import logging

import pytest
from seats_stack import CHANNEL, Stack, blocks_text

from bot.standin.slack_driver import number_input_value, static_select_value
from handlers import ids

pytestmark = pytest.mark.slow


def errors_logged(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        f"{r.levelname}: {r.getMessage()}"
        for r in caplog.records
        if r.levelno >= logging.ERROR or r.exc_info
    ]


@pytest.mark.parametrize(
    ("account", "subscription"),
    [(10**30, None), (2**31, None), (None, str(2**31)), (None, "999999999999999999")],
)
async def test_a_form_naming_an_id_no_database_holds_is_not_a_crash(
    stack: Stack,
    caplog: pytest.LogCaptureFixture,
    account: int | None,
    subscription: str | None,
) -> None:
    """The form's metadata named account 10**30 (SQLite cannot compare it with an id:
    ``OverflowError``), or account or subscription 2**31 (PostgreSQL's ``integer`` ids stop
    below it: ``integer out of range``); each was logged as an unexpected error."""
    chosen = subscription or str(stack.seeded.subscription_id)
    metadata = {
        "a": account or stack.seeded.account_id,
        "c": CHANNEL,
        "s": {chosen: ["axiom", 10]},
    }
    view = {
        "id": "V_FORGED",
        "type": "modal",
        "callback_id": ids.MODAL_CALLBACK,
        "private_metadata": json.dumps(metadata),
        "blocks": [],
    }
    values = {
        ids.PRODUCT_BLOCK: {ids.PRODUCT_ACTION: static_select_value(chosen)},
        ids.COUNT_BLOCK: {ids.COUNT_ACTION: number_input_value("12")},
    }
    action = {
        "type": "number_input",
        "action_id": ids.COUNT_ACTION,
        "block_id": ids.COUNT_BLOCK,
        "value": "12",
        "action_ts": "1.0",
    }
    with caplog.at_level(logging.INFO):
        changed = await stack.driver.block_action(
            action, user_id="U_OWNER", view=view, state_values=values
        )
        submitted = await stack.driver.view_submission(view, user_id="U_OWNER", values=values)
        await stack.settle()
    assert (changed.status_code, submitted.status_code) == (200, 200)
    assert errors_logged(caplog) == []
    assert "Traceback" not in caplog.text
    assert stack.requests() == []


@pytest.mark.parametrize("value", ["2147483648.1", "999999999999999999.1", "2147483648"])
async def test_a_button_naming_a_request_id_no_database_holds_is_not_a_crash(
    stack: Stack, caplog: pytest.LogCaptureFixture, value: str
) -> None:
    """A button value naming request 2**31: PostgreSQL's ``integer`` ids stop below it, and
    the comparison failed (``integer out of range``), logged as an unexpected error."""
    with caplog.at_level(logging.INFO):
        for action in (ids.CONFIRM_ACTION, ids.CHECK_AGAIN_ACTION, ids.CANCEL_ACTION):
            reply = await stack.press(action, value)
            assert "no longer exists" in blocks_text(reply.args)
    assert errors_logged(caplog) == []
    assert "Traceback" not in caplog.text
