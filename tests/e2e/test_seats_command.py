"""``/seats`` over HTTP: every form, confirm, cancel, double confirm, non-owner, platform down."""

from __future__ import annotations

import asyncio

import pytest
from seats_stack import AXIOM_USERS, CHANNEL, Stack, blocks_text, buttons_of

from handlers import ids
from platforms.sandbox import Fault

pytestmark = pytest.mark.slow


async def test_status_lists_each_subscription_with_platform_users(stack: Stack) -> None:
    reply = await stack.command("status")
    text = blocks_text(reply.args)
    assert "Seats · Acme" in text
    assert "*Axiom*\n10 seats" in text
    assert f"{AXIOM_USERS} users · 80% used" in text
    assert "$30.00 per seat a month" in text
    assert "1 Jan 2026 – 31 Jan 2026" in text
    assert reply.args.get("response_type") == "ephemeral"


async def test_help_and_history(stack: Stack) -> None:
    assert "/seats add 3 axiom" in blocks_text((await stack.command("help")).args)
    assert "No seat changes yet" in blocks_text((await stack.command("history")).args)


async def test_garbled_command_suggests_the_closest(stack: Stack) -> None:
    reply = await stack.command("ad 3 axim")
    assert "Did you mean `/seats add 3 axiom`?" in blocks_text(reply.args)
    assert stack.requests() == []


async def test_add_then_confirm_applies_the_exact_quote(stack: Stack) -> None:
    prompt = await stack.command("add 3 axiom")
    text = blocks_text(prompt.args)
    # 16 of 31 days left: credit 10 × 30 × 16/31 = -154.84, charge 13 × 30 × 16/31 = 201.29.
    assert "Acme*: 10 → 13 seats" in text
    assert "-$154.84" in text
    assert "$201.29" in text
    assert "*$46.45 charged now*" in text
    assert "From 1 Feb 2026: $390.00 a month, $90.00 more" in text
    assert "^{date_short_pretty} {time}|16 Jan 2026, 12:00 (UTC)>" in text
    assert set(buttons_of(prompt.args)) == {ids.CONFIRM_ACTION, ids.CANCEL_ACTION}
    [request] = stack.requests()
    assert (
        buttons_of(prompt.args)[ids.CONFIRM_ACTION]["value"] == f"{request.id}.{request.revision}"
    )

    done = await stack.click(prompt, ids.CONFIRM_ACTION)
    assert done.args.get("replace_original") is True
    assert "Done." in blocks_text(done.args)
    assert buttons_of(done.args) == {}
    subscription = stack.service.subscriptions(stack.seeded.account_id, request.created_at)[0]
    assert subscription.seats == 13
    ledger = stack.service.ledger(stack.seeded.account_id)
    assert sorted(line.amount.minor for line in ledger) == [-15484, 20129]
    history = blocks_text((await stack.command("history")).args)
    assert "10 → 13 seats · applied: $46.45 charged" in history


async def test_double_confirm_applies_once(stack: Stack) -> None:
    prompt = await stack.command("set 12 axiom")
    before = stack._seq()
    await asyncio.gather(
        stack.send_click(prompt, ids.CONFIRM_ACTION), stack.send_click(prompt, ids.CONFIRM_ACTION)
    )
    replies = await stack.standin.wait_for(
        "response_url", count=2, within_s=10, where=lambda call: call.seq > before
    )
    texts = sorted(blocks_text(call.args) for call in replies)
    assert any("Done." in text for text in texts)
    assert any("already applied" in text for text in texts)
    assert len(stack.service.ledger(stack.seeded.account_id)) == 2  # one credit, one charge
    third = await stack.click(prompt, ids.CONFIRM_ACTION)
    assert "already applied" in blocks_text(third.args)
    assert len(stack.service.ledger(stack.seeded.account_id)) == 2


async def test_cancel_changes_nothing(stack: Stack) -> None:
    prompt = await stack.command("add 1 axiom")
    cancelled = await stack.click(prompt, ids.CANCEL_ACTION)
    assert "Cancelled: Axiom stays at 10 seats" in blocks_text(cancelled.args)
    assert stack.service.ledger(stack.seeded.account_id) == []
    assert [str(r.status) for r in stack.requests()] == ["cancelled"]
    again = await stack.click(prompt, ids.CONFIRM_ACTION)
    assert "Done." not in blocks_text(again.args)
    assert stack.service.ledger(stack.seeded.account_id) == []


async def test_non_owner_is_told_who_can(stack: Stack) -> None:
    reply = await stack.command("add 3 axiom", user="U_VIEWER")
    text = blocks_text(reply.args)
    assert "Only the owners of Acme can change seats.\nAsk <@U_OWNER>." in text
    assert buttons_of(reply.args) == {}
    assert stack.requests() == []


async def test_non_owner_cannot_confirm_an_owners_prompt(stack: Stack) -> None:
    prompt = await stack.command("add 3 axiom")
    reply = await stack.click(prompt, ids.CONFIRM_ACTION, user="U_MANAGER")
    assert "Only the owner who asked" in blocks_text(reply.args)
    assert stack.service.ledger(stack.seeded.account_id) == []


async def test_other_workspace_cannot_use_a_request_id(stack: Stack) -> None:
    prompt = await stack.command("add 3 axiom")
    offered = buttons_of(prompt.args)[ids.CONFIRM_ACTION]
    from bot.offline.standin.slack_driver import button

    before = stack._seq()
    await stack.driver.block_action(
        button(ids.CONFIRM_ACTION, offered["value"], block_id=offered["block_id"]),
        user_id="U_OWNER",
        channel_id=CHANNEL,
        team_id="T_OTHER",
    )
    reply = await stack.next_call("response_url", before)
    assert "no longer exists" in blocks_text(reply.args)
    assert stack.service.ledger(stack.seeded.account_id) == []


async def test_removing_below_existing_users_is_blocked_until_they_are_deleted(
    stack: Stack,
) -> None:
    blocked = await stack.command("remove 4 axiom")  # 10 → 6 seats, but 8 users exist
    text = blocks_text(blocked.args)
    assert "*2* of them must be deleted on Axiom first" in text
    assert set(buttons_of(blocked.args)) == {ids.CHECK_AGAIN_ACTION, ids.CANCEL_ACTION}
    listed = [u for u in stack.sandbox.users("acme", "axiom") if u["email"] in text]
    assert len(listed) == 2

    still = await stack.click(blocked, ids.CHECK_AGAIN_ACTION)
    assert "must be deleted" in blocks_text(still.args)
    for user in listed:
        assert stack.sandbox.delete_user("acme", "axiom", str(user["id"]))
    prompt = await stack.click(still, ids.CHECK_AGAIN_ACTION)
    assert "10 → 6 seats" in blocks_text(prompt.args)
    assert ids.CONFIRM_ACTION in buttons_of(prompt.args)
    done = await stack.click(prompt, ids.CONFIRM_ACTION)
    assert "Done." in blocks_text(done.args)
    assert (
        stack.service.subscriptions(stack.seeded.account_id, stack.requests()[0].created_at)[
            0
        ].seats
        == 6
    )


async def test_platform_down_refuses_a_decrease(stack: Stack) -> None:
    stack.sandbox.add_fault(Fault(kind="server_error", product="axiom"))
    reply = await stack.command("remove 1 axiom")
    text = blocks_text(reply.args)
    assert "Axiom could not be reached: a decrease can't be checked right now" in text
    assert ids.CONFIRM_ACTION not in buttons_of(reply.args)
    # An increase does not need the platform.
    prompt = await stack.command("add 1 axiom")
    assert ids.CONFIRM_ACTION in buttons_of(prompt.args)
    assert stack.service.ledger(stack.seeded.account_id) == []


async def test_removing_more_seats_than_exist_is_explained(stack: Stack) -> None:
    reply = await stack.command("remove 11 axiom")
    assert "at most 10 can be removed" in blocks_text(reply.args)
    reply = await stack.command("add 2 matrix")
    assert "Acme has no Matrix subscription" in blocks_text(reply.args)
