"""A user of the account's own workspace who holds no role in any account learns nothing about
one over signed HTTP: not its name, not who owns or approves it — whatever they type, click or
submit (issue 16, defect 6)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from seats_stack import CHANNEL, Stack, buttons_of

from billing.approvals.rules import ApprovalPolicy
from billing.models import Account
from billing.setup.store import apply_approval_policy
from bot.offline.standin.slack_driver import (
    number_input_value,
    static_select_value,
    text_input_value,
)
from handlers import ids

pytestmark = pytest.mark.slow

NOBODY = "U_NOBODY"  # in the account's workspace, with no role in any account
COMMANDS = (
    "status",
    "history",
    "",  # the seat-change form
    "add 1 axiom",
    "remove 1 axiom",
    "set 12 axiom",
    "help",
    "status account acme",
    "history account acme",
    "add 1 axiom account acme",
)


def shown_since(stack: Stack, mark: int) -> str:
    """Everything the app sent anyone since call ``mark`` (replies, posts, forms, homes)."""
    return "\n".join(json.dumps(call.args) for call in stack.standin.calls() if call.seq > mark)


def what_leaks(text: str, typed: str = "") -> list[str]:
    """The accounts' names and the mentions of their members in ``text`` (but echoes)."""
    needles = ["Acme", "Initech", "<@U_OWNER>", "<@U_MANAGER>", "<@U_VIEWER>"]
    found = [needle for needle in needles if needle in text]
    # The slugs, but in the help's example (`/seats status account acme`).
    for slug in ("acme", "initech"):
        rest = text.replace("status account acme`", "")
        if slug in rest and slug not in typed:
            found.append(slug)
    return found


@pytest.fixture
def approvals(stack: Stack) -> None:
    """Acme routes decreases to its manager, and posts them in ``C_APPROVALS``."""
    with stack.sessions.begin() as session:
        account = session.get(Account, stack.seeded.account_id)
        assert account is not None
        apply_approval_policy(
            session, account, ApprovalPolicy(require_decrease=True, channel_id="C_APPROVALS")
        )


@pytest.mark.parametrize("accounts", [1, 2])
@pytest.mark.parametrize("text", COMMANDS)
async def test_a_user_without_a_role_learns_nothing_from_a_command(
    stack: Stack, seed: Any, accounts: int, text: str
) -> None:
    if accounts == 2:
        seed("initech", team_id="T_ACME")
    mark = stack._seq()
    reply = await stack.command(text, user=NOBODY)
    await stack.settle()
    assert reply.args.get("text")
    assert what_leaks(shown_since(stack, mark), typed=text) == []


async def test_naming_an_account_tells_a_user_without_a_role_no_more_than_a_made_up_name(
    stack: Stack,
) -> None:
    real = await stack.command("status account acme", user=NOBODY)
    made_up = await stack.command("status account zork", user=NOBODY)
    assert real.args.get("response_type") == made_up.args.get("response_type")
    for key in ("text", "blocks"):
        assert json.dumps(real.args[key]).replace("acme", "zork") == json.dumps(made_up.args[key])


async def test_a_user_without_a_role_learns_nothing_from_buttons_forms_and_home(
    stack: Stack, approvals: None
) -> None:
    # The owner's open increase (a draft) and a decrease waiting for the manager's approval.
    draft = await stack.command("add 2 axiom")
    decrease = await stack.command("remove 2 axiom")
    await stack.click(decrease, ids.CONFIRM_ACTION)
    await stack.settle()
    mark = stack._seq()
    for reply in (draft, decrease):
        value = buttons_of(reply.args)[ids.CONFIRM_ACTION]["value"]
        for action in (ids.CONFIRM_ACTION, ids.CHECK_AGAIN_ACTION, ids.CANCEL_ACTION):
            await stack.press(action, value, user=NOBODY)
        for action in (ids.APPROVE_ACTION, ids.DENY_ACTION):
            await stack.send_press(action, value, user=NOBODY, block_id=ids.APPROVAL_ACTIONS_BLOCK)
            await stack.settle()
    # The form, with the metadata Seatbot writes in acme's own form: a preview and a submit.
    with stack.sessions() as session:
        account = session.get_one(Account, stack.seeded.account_id)
        metadata = json.dumps(
            {"a": account.id, "c": CHANNEL, "s": {str(stack.seeded.subscription_id): ["axiom", 10]}}
        )
    view = {"id": "V_NOBODY", "type": "modal", "callback_id": ids.MODAL_CALLBACK}
    view["private_metadata"] = metadata
    state = {
        ids.PRODUCT_BLOCK: {
            ids.PRODUCT_ACTION: static_select_value(str(stack.seeded.subscription_id))
        },
        ids.COUNT_BLOCK: {ids.COUNT_ACTION: number_input_value("12")},
    }
    count = {
        "type": "number_input",
        "action_id": ids.COUNT_ACTION,
        "block_id": ids.COUNT_BLOCK,
        "value": "12",
        "action_ts": "1.0",
    }
    await stack.driver.block_action(count, user_id=NOBODY, view=view, state_values=state)
    await stack.driver.view_submission(view, user_id=NOBODY, values=state)
    # The deny form's submission, and the App Home.
    deny = {"id": "V_DENY", "type": "modal", "callback_id": ids.DENY_MODAL_CALLBACK}
    deny["private_metadata"] = buttons_of(decrease.args)[ids.CONFIRM_ACTION]["value"]
    reason = {ids.DENY_REASON_BLOCK: {ids.DENY_REASON_ACTION: text_input_value("no")}}
    await stack.driver.view_submission(deny, user_id=NOBODY, values=reason)
    home = {"type": "app_home_opened", "user": NOBODY, "channel": "D_NOBODY", "tab": "home"}
    await stack.driver.event(home)
    await stack.settle()
    answers = [call for call in stack.standin.calls() if call.seq > mark]
    assert {call.method for call in answers} >= {"response_url", "views.publish"}
    assert what_leaks(shown_since(stack, mark)) == []
    assert [buttons_of(call.args) for call in answers] == [{} for _ in answers]
    assert sorted(str(r.status) for r in stack.requests()) == ["draft", "pending_approval"]
