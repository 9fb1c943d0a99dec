"""Defects the fuzzer (:mod:`test_fuzz`) found, each reduced to the request that shows it."""

from __future__ import annotations

import json
import logging

import pytest
from seats_stack import CHANNEL, Stack, blocks_text, buttons_of

from billing.approvals.rules import ApprovalPolicy
from billing.models import Account
from billing.setup.store import apply_approval_policy
from bot.offline.standin import RecordedCall
from bot.offline.standin.slack_driver import (
    button,
    number_input_value,
    static_select_value,
    text_input_value,
)
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


@pytest.mark.parametrize("reason", ["\u0000", "before\u0000after"])
async def test_a_reason_holding_a_nul_character_is_not_a_crash(
    stack: Stack, caplog: pytest.LogCaptureFixture, reason: str
) -> None:
    """The owner submitted the form with a reason holding NUL (U+0000). Billing's
    ``clean_reason`` keeps it, and PostgreSQL refuses NUL in text ("PostgreSQL text fields
    cannot contain NUL (0x00) bytes"): the insert failed, logged as an unexpected error with a
    traceback, and the owner got "Something went wrong". (SQLite stores it.)"""
    before = stack._seq()
    await stack.driver.slash_command("", user_id="U_OWNER", channel_id=CHANNEL)
    opened = await stack.next_call("views.open", before)
    await stack.settle()
    view = stack.standin.view(opened.response["view"]["id"])
    values = {
        ids.PRODUCT_BLOCK: {
            ids.PRODUCT_ACTION: static_select_value(str(stack.seeded.subscription_id))
        },
        ids.COUNT_BLOCK: {ids.COUNT_ACTION: number_input_value("12")},
        ids.REASON_BLOCK: {ids.REASON_ACTION: text_input_value(reason)},
    }
    with caplog.at_level(logging.INFO):
        submitted = await stack.driver.view_submission(view, user_id="U_OWNER", values=values)
        await stack.settle()
    assert submitted.status_code == 200
    assert errors_logged(caplog) == []
    assert "Traceback" not in caplog.text
    [answer] = [c for c in stack.standin.calls("chat.postEphemeral") if c.seq > before]
    assert "went wrong" not in blocks_text(answer.args)


async def test_a_denial_reason_holding_a_nul_character_is_not_a_crash(
    stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    """The manager denied a decrease routed to them, giving a reason holding NUL: billing stores
    it as the request's ``decision_reason``, PostgreSQL refuses it, and the denial failed as
    an unexpected error with a traceback (the manager got "Something went wrong" by DM)."""
    with stack.sessions.begin() as session:
        account = session.get_one(Account, stack.seeded.account_id)
        apply_approval_policy(session, account, ApprovalPolicy(require_decrease=True))
    prompt = await stack.command("remove 2 axiom")
    await stack.click(prompt, ids.CONFIRM_ACTION)
    [request] = stack.requests()
    view = {
        "id": "V_DENY",
        "type": "modal",
        "callback_id": ids.DENY_MODAL_CALLBACK,
        "private_metadata": f"{request.id}.{request.revision}",
        "blocks": [],
    }
    reason = {ids.DENY_REASON_BLOCK: {ids.DENY_REASON_ACTION: text_input_value("no\u0000way")}}
    with caplog.at_level(logging.INFO):
        denied = await stack.driver.view_submission(view, user_id="U_MANAGER", values=reason)
        await stack.settle()
    assert denied.status_code == 200
    assert errors_logged(caplog) == []
    assert "Traceback" not in caplog.text
    assert [str(r.status) for r in stack.requests()] == ["denied"]


async def approval_in_channel(stack: Stack) -> RecordedCall:
    """Acme routes decreases to its manager and to ``C_APPROVALS``; the owner asks to go from
    10 to 8 seats (8 users exist) and confirms. Returns the channel's post."""
    with stack.sessions.begin() as session:
        account = session.get_one(Account, stack.seeded.account_id)
        policy = ApprovalPolicy(require_decrease=True, channel_id="C_APPROVALS")
        apply_approval_policy(session, account, policy)
    prompt = await stack.command("remove 2 axiom")
    mark = stack._seq()
    await stack.click(prompt, ids.CONFIRM_ACTION)
    [post] = await stack.standin.wait_for(
        "chat.postMessage",
        within_s=10,
        where=lambda call: call.seq > mark and call.args["channel"] == "C_APPROVALS",
    )
    return post


async def click_in_channel(stack: Stack, post: RecordedCall, user: str) -> RecordedCall:
    """``user`` clicks Approve on the channel's post; returns the answer to them."""
    element = buttons_of(post.args)[ids.APPROVE_ACTION]
    mark = stack._seq()
    clicked = await stack.driver.block_action(
        button(ids.APPROVE_ACTION, element["value"], block_id=element["block_id"]),
        user_id=user,
        channel_id=str(post.response["channel"]),
        message=dict(post.response["message"]),
    )
    assert clicked.status_code == 200
    return await stack.next_call("response_url", mark)


async def test_a_refused_approve_click_leaves_the_approval_channels_message_alone(
    stack: Stack,
) -> None:
    """Anyone in the approval channel can click Approve on the request posted there. A viewer
    did: the refusal ("Only the approvers of this seat change can decide it.") was sent with
    ``replace_original``, so it replaced the channel's message for everyone, and the approver
    lost the Approve and Deny buttons there."""
    post = await approval_in_channel(stack)
    answer = await click_in_channel(stack, post, "U_VIEWER")
    assert "approvers" in blocks_text(answer.args)  # the viewer is told, and refused
    shown = stack.standin.message(str(post.response["channel"]), str(post.response["ts"]))
    assert shown is not None
    assert set(buttons_of(shown)) == {ids.APPROVE_ACTION, ids.DENY_ACTION}


async def test_approving_a_blocked_decrease_in_the_channel_shows_the_channel_no_users(
    stack: Stack,
) -> None:
    """Two users were created on Axiom after the owner's 10 → 8 was submitted. The manager
    clicked Approve on the approval channel's post: the re-check refused it and answered with
    the users to delete first (names and emails), sent with ``replace_original`` — so the
    whole approval channel, people without a role included, was shown them."""
    post = await approval_in_channel(stack)
    stack.sandbox.set_account("acme", "axiom", users=10, seed=1)
    answer = await click_in_channel(stack, post, "U_MANAGER")
    assert "must be deleted" in blocks_text(answer.args)  # the approver is told who
    shown = stack.standin.message(str(post.response["channel"]), str(post.response["ts"]))
    assert shown is not None
    assert "@acme.example.com" not in blocks_text(shown)
