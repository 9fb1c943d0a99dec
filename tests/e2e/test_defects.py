"""The defects an adversarial run found where money and privacy meet, each over signed HTTP.

Every test here failed before the decisions moved into billing's application layer.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from seats_stack import CHANNEL, Stack, blocks_text, buttons_of

from billing.formatting import format_money
from bot.offline.standin.slack_driver import number_input_value, static_select_value
from handlers import ids

pytestmark = pytest.mark.slow

NOBODY = "U_NOBODY"  # a member of the workspace with no role in the account


def sandbox_people(stack: Stack) -> list[str]:
    """Every name and email of the users on the sandbox's Axiom."""
    people: list[str] = []
    for user in stack.sandbox.users("acme", "axiom"):
        people.extend([str(user["email"]), str(user["name"])])
    return people


def shows_any(text: str, needles: list[str]) -> list[str]:
    return [needle for needle in needles if needle and needle in text]


def applied(stack: Stack) -> list[Any]:
    return [r for r in stack.requests() if str(r.status) == "applied"]


# -- 2. a double click applies only a quote the owner saw --------------------------------------


async def test_a_double_click_never_applies_a_quote_nobody_saw(stack: Stack) -> None:
    stack.add_member("U_OWNER2", "owner")
    prompt = await stack.command("remove 2 axiom")  # 10 → 8 seats; 8 users exist
    shown = blocks_text(prompt.args)
    assert "10 → 8 seats" in shown
    # Meanwhile another owner adds a seat: 11 seats.
    other = await stack.command("add 1 axiom", user="U_OWNER2")
    assert "Done." in blocks_text(
        (await stack.click(other, ids.CONFIRM_ACTION, user="U_OWNER2")).args
    )

    first = await stack.click(prompt, ids.CONFIRM_ACTION)  # the quote moved: a new quote
    second = await stack.click(prompt, ids.CONFIRM_ACTION)  # the same old message, again
    assert "Done." not in blocks_text(first.args)
    assert "Done." not in blocks_text(second.args)
    assert [r.requested_by_user for r in applied(stack)] == ["U_OWNER2"]
    # Each answer shows the current quote (11 → 8) and asks again.
    for reply in (first, second):
        assert "11 → 8 seats" in blocks_text(reply.args)
        assert ids.CONFIRM_ACTION in buttons_of(reply.args)
    shown_again = blocks_text(second.args)
    done = await stack.click(second, ids.CONFIRM_ACTION)
    assert "Done." in blocks_text(done.args)
    [mine] = [r for r in applied(stack) if r.requested_by_user == "U_OWNER"]
    assert (mine.old_seats, mine.new_seats) == (11, 8)
    # What was applied is what the clicked message showed.
    assert mine.net.minor < 0
    assert f"*{format_money(-mine.net)} back as credit on your next invoice*" in shown_again


# -- 3. buttons authorise before they read anything ----------------------------------------


@pytest.mark.parametrize("intruder", ["U_VIEWER", "U_MANAGER", NOBODY])
async def test_confirm_on_a_blocked_decrease_shows_intruders_no_users(
    stack: Stack, intruder: str
) -> None:
    blocked = await stack.command("remove 4 axiom")  # 8 users: 2 must go
    assert ids.CHECK_AGAIN_ACTION in buttons_of(blocked.args)
    value = buttons_of(blocked.args)[ids.CHECK_AGAIN_ACTION]["value"]
    for action in (ids.CONFIRM_ACTION, ids.CHECK_AGAIN_ACTION):
        reply = await stack.press(action, value, user=intruder)
        text = blocks_text(reply.args)
        assert shows_any(text, sandbox_people(stack)) == []
        assert "$" not in text
        assert buttons_of(reply.args) == {}
    assert applied(stack) == []


async def test_sweeping_request_ids_reveals_nothing_to_a_user_without_a_role(stack: Stack) -> None:
    await stack.command("add 2 axiom")
    await stack.command("remove 4 axiom")
    for request_id in range(1, 6):
        for action in (ids.CONFIRM_ACTION, ids.CHECK_AGAIN_ACTION, ids.CANCEL_ACTION):
            for value in (str(request_id), f"{request_id}.1"):
                reply = await stack.press(action, value, user=NOBODY)
                text = blocks_text(reply.args)
                assert "$" not in text
                assert shows_any(text, sandbox_people(stack)) == []
                assert buttons_of(reply.args) == {}
    assert [str(r.status) for r in stack.requests()] == ["draft", "draft"]


async def test_a_tampered_modal_cannot_preview_another_workspaces_account(
    stack: Stack, seed: Any
) -> None:
    globex = seed("globex", product="matrix", seats=4, unit_price_minor=7777, team_id="T_GLOBEX")
    before = stack._seq()
    await stack.driver.slash_command("", user_id="U_OWNER", channel_id=CHANNEL)
    opened = await stack.next_call("views.open", before)
    await stack.next_call("views.update", opened.seq)
    view = stack.standin.view(opened.response["view"]["id"])
    tampered = dict(view, private_metadata=_point_at(view["private_metadata"], globex))
    sub = str(globex.subscription_id)
    state = {
        ids.PRODUCT_BLOCK: {ids.PRODUCT_ACTION: static_select_value(sub, "Matrix (4)")},
        ids.COUNT_BLOCK: {ids.COUNT_ACTION: number_input_value("5")},
    }
    for metadata in (tampered["private_metadata"], _other_account(view, globex)):
        sent = dict(tampered, private_metadata=metadata)
        mark = stack._seq()
        action = {
            "type": "number_input",
            "action_id": ids.COUNT_ACTION,
            "block_id": ids.COUNT_BLOCK,
            "value": "5",
            "action_ts": "1.0",
        }
        result = await stack.driver.block_action(
            action, user_id="U_OWNER", view=sent, state_values=state
        )
        assert result.status_code == 200
        await stack.settle()
        for call in stack.standin.calls():
            if call.seq > mark:
                sent = json.dumps(call.args)
                # No quote of the other workspace's subscription (prorated from 77.77 a seat).
                assert "charged now" not in sent
                assert "back as credit" not in sent
                assert "Globex" not in sent


def _point_at(metadata: str, globex: Any) -> str:
    """The modal's metadata with the other workspace's subscription added to the choices."""
    data = json.loads(metadata)
    data["s"] = {str(globex.subscription_id): ["matrix", 4]}
    return json.dumps(data)


def _other_account(view: dict[str, Any], globex: Any) -> str:
    data = json.loads(view["private_metadata"])
    data["a"] = globex.account_id
    data["s"] = {str(globex.subscription_id): ["matrix", 4]}
    return json.dumps(data)


# -- 4. status and history only for members with a role -------------------------------------


async def test_status_and_history_are_for_members_with_a_role(stack: Stack) -> None:
    # Confirmed, so the history lists it (a quote never confirmed is no change).
    await stack.click(await stack.command("add 1 axiom"), ids.CONFIRM_ACTION)
    for words in ("status", "history"):
        reply = await stack.command(words, user=NOBODY)
        text = blocks_text(reply.args)
        assert "$" not in text
        assert "10 seats" not in text
        assert "Acme" not in text  # nor its name or owners (issue 16): tests/e2e/test_no_role.py
        assert "<@U_OWNER>" not in text
        for member in ("U_OWNER", "U_MANAGER", "U_VIEWER"):
            allowed = blocks_text((await stack.command(words, user=member)).args)
            assert "$" in allowed


async def test_another_workspace_sees_no_account(stack: Stack) -> None:
    reply = await stack.command("status", user="U_OWNER", team="T_STRANGER")
    text = blocks_text(reply.args)
    assert "Acme" not in text
    assert "$" not in text


# -- 6, 7, 8. hostile command text ----------------------------------------------------------


async def test_huge_command_text_is_answered_briefly(stack: Stack) -> None:
    reply = await stack.command("ad " + "x" * 300_000)
    assert len(reply.args.get("text") or "") < 500
    assert len(json.dumps(reply.args)) < 5_000


async def test_a_number_longer_than_python_parses_is_a_clear_answer(stack: Stack) -> None:
    reply = await stack.command(f"add {'9' * 4301} axiom")
    assert "too long to be a /seats command" in blocks_text(reply.args)
    reply = await stack.command(f"add {'9' * 40} axiom")
    assert "at most 10,000 seats" in blocks_text(reply.args)
    assert stack.requests() == []


@pytest.mark.parametrize("text", ["add 1 <!channel>", "<!here> help me", "add 1 <@U_VIEWER>"])
async def test_replies_never_echo_mentions(stack: Stack, text: str) -> None:
    reply = await stack.command(text)
    payload = json.dumps(reply.args)
    for mention in ("<!channel>", "<!here>", "<@U_VIEWER>"):
        assert mention not in payload


async def test_a_100_kb_command_gives_a_short_reply(stack: Stack) -> None:
    reply = await stack.command("add 1 " + "<!channel> " * 10_000)
    assert len(json.dumps(reply.args)) < 5_000
    assert "<!channel>" not in json.dumps(reply.args)


# -- 9. signed nonsense is a 200 and a log line, never a traceback --------------------------


@pytest.mark.parametrize(
    "metadata",
    ['{"a": "x", "s": 5}', "[]", "not json", '{"a": 1, "c": 7, "s": {"1": "axiom"}}', "null"],
)
async def test_garbled_modal_metadata_is_not_a_crash(
    stack: Stack, caplog: pytest.LogCaptureFixture, metadata: str
) -> None:
    view = {
        "id": "V_FORGED",
        "type": "modal",
        "callback_id": ids.MODAL_CALLBACK,
        "private_metadata": metadata,
        "blocks": [],
    }
    action = {
        "type": "number_input",
        "action_id": ids.COUNT_ACTION,
        "block_id": ids.COUNT_BLOCK,
        "value": "3",
        "action_ts": "1.0",
    }
    with caplog.at_level(logging.INFO):
        result = await stack.driver.block_action(
            action,
            user_id="U_OWNER",
            view=view,
            state_values={ids.COUNT_BLOCK: {ids.COUNT_ACTION: number_input_value("3")}},
        )
        submitted = await stack.driver.view_submission(view, user_id="U_OWNER", values={})
        await stack.settle()
    assert result.status_code == 200
    assert submitted.status_code == 200
    assert "Traceback" not in caplog.text
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []


@pytest.mark.parametrize("value", ["", "0", "-1", "1.1.1", "x" * 5000, "1e9", "٣", "1.x"])
async def test_garbled_button_values_are_not_a_crash(
    stack: Stack, caplog: pytest.LogCaptureFixture, value: str
) -> None:
    with caplog.at_level(logging.INFO):
        reply = await stack.press(ids.CONFIRM_ACTION, value)
    assert "no longer exists" in blocks_text(reply.args)
    assert "Traceback" not in caplog.text


# -- 10. cancel states the subscription's real count -----------------------------------------


async def test_cancel_states_the_seats_the_subscription_has_now(stack: Stack) -> None:
    stack.add_member("U_OWNER2", "owner")
    prompt = await stack.command("add 1 axiom")
    other = await stack.command("add 5 axiom", user="U_OWNER2")
    await stack.click(other, ids.CONFIRM_ACTION, user="U_OWNER2")
    cancelled = await stack.click(prompt, ids.CANCEL_ACTION)
    assert "stays at 15 seats" in blocks_text(cancelled.args)
