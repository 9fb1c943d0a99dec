"""The seat-change modal over HTTP: opened before the platform answers, live preview, submit."""

from __future__ import annotations

from typing import Any

import pytest
from seats_stack import CHANNEL, Stack, blocks_text, buttons_of, form_values

from handlers import ids
from platforms.sandbox import Fault

pytestmark = pytest.mark.slow


def view_text(view: dict[str, Any]) -> str:
    return blocks_text({"blocks": view["blocks"]})


async def open_modal(stack: Stack) -> dict[str, Any]:
    before = stack._seq()
    result = await stack.driver.slash_command("", user_id="U_OWNER", channel_id=CHANNEL)
    assert result.status_code == 200
    opened = await stack.next_call("views.open", before)
    await stack.next_call("views.update", opened.seq)
    return stack.standin.view(opened.response["view"]["id"])


async def type_count(stack: Stack, view: dict[str, Any], count: str) -> dict[str, Any]:
    before = stack._seq()
    action = {
        "type": "number_input",
        "action_id": ids.COUNT_ACTION,
        "block_id": ids.COUNT_BLOCK,
        "value": count,
        "action_ts": "1.0",
    }
    result = await stack.driver.block_action(
        action, user_id="U_OWNER", view=view, state_values=form_values(view, count)
    )
    assert result.status_code == 200
    await stack.next_call("views.update", before)
    return stack.standin.view(view["id"])


async def test_modal_opens_before_the_platform_answers(stack: Stack) -> None:
    stack.sandbox.add_fault(Fault(kind="latency", ms=1500, product="axiom", endpoint="users"))
    before = stack._seq()
    await stack.driver.slash_command("", user_id="U_OWNER", channel_id=CHANNEL)
    opened = await stack.next_call("views.open", before, within_s=1.0)
    assert opened.ok
    first = opened.args["view"]
    assert "asking Axiom which users exist" in view_text(first)
    assert [o["value"] for o in first["blocks"][1]["element"]["options"]] == [
        str(stack.seeded.subscription_id)
    ]
    assert stack.standin.calls("views.update") == []
    await stack.next_call("views.update", opened.seq)
    assert "8 users on Axiom" in view_text(stack.standin.view(opened.response["view"]["id"]))


async def test_preview_updates_with_the_quote_and_the_platform_check(stack: Stack) -> None:
    view = await open_modal(stack)
    assert "Enter the new number of seats" in view_text(view)
    view = await type_count(stack, view, "13")
    assert "*$46.45 charged now*" in view_text(view)
    view = await type_count(stack, view, "6")
    text = view_text(view)
    # -154.84 + 92.90 (16 of 31 days of the period left)
    assert "*$61.94 back as credit on your next invoice*" in text
    assert "Delete *2* users on Axiom before going to 6 seats" in text
    assert text.index("Delete *2* users") < text.index("back as credit")  # the blocker first
    stack.sandbox.add_fault(Fault(kind="server_error", product="axiom"))
    view = await type_count(stack, view, "7")
    assert "Axiom could not be reached: a decrease can't be checked right now" in view_text(view)
    view = await type_count(stack, view, "ten")
    assert "Enter the new number of seats (a whole number)" in view_text(view)


async def test_submit_validates_in_the_ack_then_posts_the_prompt(stack: Stack) -> None:
    view = await open_modal(stack)
    same = await stack.driver.view_submission(
        view, user_id="U_OWNER", values=form_values(view, "10")
    )
    assert same.json == {
        "response_action": "errors",
        "errors": {ids.COUNT_BLOCK: "Axiom already has 10 seats. Enter a different number."},
    }
    empty = await stack.driver.view_submission(
        view, user_id="U_OWNER", values=form_values(view, None)
    )
    assert set(empty.json["errors"]) == {ids.COUNT_BLOCK}
    assert stack.requests() == []

    before = stack._seq()
    submitted = form_values(view, "12")
    submitted[ids.REASON_BLOCK] = {ids.REASON_ACTION: {"type": "plain_text_input", "value": "Q1"}}
    ok = await stack.driver.view_submission(view, user_id="U_OWNER", values=submitted)
    assert ok.status_code == 200
    assert ok.json is None
    posted = await stack.next_call("chat.postEphemeral", before)
    assert posted.args["channel"] == CHANNEL
    assert posted.args["user"] == "U_OWNER"
    assert "10 → 12 seats" in blocks_text(posted.args)
    assert "Reason: Q1" in blocks_text(posted.args)
    [request] = stack.requests()
    assert (
        buttons_of(posted.args)[ids.CONFIRM_ACTION]["value"] == f"{request.id}.{request.revision}"
    )
    done = await stack.click(posted, ids.CONFIRM_ACTION)
    assert "Done." in blocks_text(done.args)


async def test_a_decrease_the_users_forbid_is_refused_on_the_count_in_place(stack: Stack) -> None:
    view = await open_modal(stack)
    view = await type_count(stack, view, "6")  # 8 users exist on Axiom
    before = stack._seq()
    refused = await stack.driver.view_submission(
        view, user_id="U_OWNER", values=form_values(view, "6")
    )
    assert refused.status_code == 200
    # The form stays open with the problem on the seat count: no closed modal, no message.
    assert refused.json == {
        "response_action": "errors",
        "errors": {
            ids.COUNT_BLOCK: "8 users exist on Axiom: delete 2 of them there first, or choose "
            "8 seats or more. Enter a different number."
        },
    }
    assert stack.requests() == []
    await stack.settle()
    assert [call for call in stack.standin.calls() if call.seq > before] == []
    # Eight seats keep every user: that goes through.
    view = await type_count(stack, view, "8")
    ok = await stack.driver.view_submission(view, user_id="U_OWNER", values=form_values(view, "8"))
    assert ok.json is None
    posted = await stack.next_call("chat.postEphemeral", before)
    assert "*$30.97 back as credit on your next invoice*" in blocks_text(posted.args)


async def test_a_non_owner_gets_no_modal(stack: Stack) -> None:
    reply = await stack.command("", user="U_VIEWER")
    assert "Only the owners of Acme can change seats.\nAsk <@U_OWNER>." in blocks_text(reply.args)
    assert stack.standin.calls("views.open") == []
