"""Right-sizing from the digest over HTTP (issue 20), on SQLite and PostgreSQL: the digest's
"Remove 2 unused Axiom seats" button, the preset form it opens for an owner, Confirm applying once,
the refusal anyone else gets, a stale button's fresh figures, the thread's "check again", and
the change's source in the audit trail, the webhook event and the next digest.

The stack: ``acme``'s Axiom has 10 seats at $30.00 a month and 8 users on the sandbox, so the
digest finds 2 unused seats; the clock stands at 16 January 2026 12:00 UTC (16 of 31 days of
the period left: removing 2 seats credits 2 × 30.00 × 16/31 = $30.97).
"""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Any

import pytest
from seats_stack import CHANNEL, Stack, blocks_text, buttons_of, form_values
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View
from sqlalchemy import select

from billing.events.store import OutboxEvent
from billing.models import Subscription
from billing.requests import RequestStatus
from bot.offline.standin import RecordedCall
from bot.offline.standin.slack_driver import button
from handlers import ids
from platforms.sandbox import Fault

pytestmark = pytest.mark.slow

REMOVE = f"{ids.RIGHTSIZE_ACTION}_axiom"


async def post_digest(stack: Stack, *, force: bool = False) -> RecordedCall:
    """Post acme's digest for today through the report jobs ``seatbot serve`` runs; the
    top-level message (or its update)."""
    before = stack._seq()
    jobs = stack.runtime.reports.jobs
    [target] = await asyncio.to_thread(jobs.reports.targets, "acme", stack.clock())
    outcome = await jobs.post_digest(target.account, stack.clock().date(), force=force)
    assert outcome.ok, outcome
    method = "chat.update" if force else "chat.postMessage"
    calls = [c for c in stack.standin.calls(method) if c.seq > before]
    assert calls, f"no {method}"
    for call in calls:  # every block Slack would get is valid Block Kit
        for block in call.args.get("blocks") or []:
            assert Block.parse(block) is not None
    return calls[0]


def thread_of(stack: Stack, top: RecordedCall) -> RecordedCall:
    ts = top.response["ts"]
    [thread] = [c for c in stack.standin.calls("chat.postMessage") if c.args.get("thread_ts") == ts]
    return thread


async def click_message(
    stack: Stack, message: RecordedCall, action_id: str, *, user: str = "U_OWNER"
) -> None:
    """Click a button on a posted (shared) message, as Slack sends it."""
    element = buttons_of(message.args)[action_id]
    action = button(action_id, element["value"], block_id=element["block_id"], text="x")
    shown = {"ts": message.response["ts"], "blocks": message.args.get("blocks")}
    result = await stack.driver.block_action(
        action, user_id=user, channel_id=CHANNEL, message=shown
    )
    assert result.status_code == 200


async def open_from_digest(stack: Stack, top: RecordedCall) -> dict[str, Any]:
    """The owner clicks the digest's button: the form, once filled in with today's users."""
    before = stack._seq()
    await click_message(stack, top, REMOVE)
    opened = await stack.next_call("views.open", before)
    await stack.next_call("views.update", opened.seq)
    view = stack.standin.view(opened.response["view"]["id"])
    assert View(**{k: v for k, v in view.items() if k in View.attributes}) is not None
    return view


def preset_of(view: dict[str, Any]) -> Any:
    [count] = [b for b in view["blocks"] if b.get("block_id") == ids.COUNT_BLOCK]
    return count["element"].get("initial_value")


async def submit(stack: Stack, view: dict[str, Any], count: str) -> RecordedCall:
    """Submit the form; the confirmation prompt posted to the owner alone."""
    before = stack._seq()
    ok = await stack.driver.view_submission(
        view, user_id="U_OWNER", values=form_values(view, count)
    )
    assert ok.status_code == 200
    assert ok.json is None, ok.json
    return await stack.next_call("chat.postEphemeral", before)


def axiom_seats(stack: Stack) -> int:
    with stack.sessions() as session:
        row = session.get(Subscription, stack.seeded.subscription_id)
        assert row is not None
        return row.seats


def applied(stack: Stack) -> list[Any]:
    return [r for r in stack.requests() if r.status is RequestStatus.APPLIED]


async def test_the_button_appears_exactly_where_unused_seats_are_known(stack: Stack) -> None:
    top = await post_digest(stack)
    offered = buttons_of(top.args)
    assert [a for a in offered if a.startswith("rightsize")] == [REMOVE]
    assert offered[REMOVE]["text"]["text"] == "Remove 2 unused Axiom seats"
    # The value names the account and the product, nothing else (no figure to trust later).
    assert offered[REMOVE]["value"] == f"{stack.seeded.account_id}:axiom"
    # The thread lists who holds seats idly, with "check again" (never a right-size button).
    thread = thread_of(stack, top)
    assert [a for a in buttons_of(thread.args) if a.startswith("rightsize")] == [
        ids.RIGHTSIZE_RECHECK_ACTION
    ]

    # The platform cannot be read: no button (unknown is never zero).
    stack.sandbox.add_fault(Fault(kind="server_error", product="axiom"))
    updated = await post_digest(stack, force=True)
    assert not [a for a in buttons_of(updated.args) if a.startswith("rightsize")]
    assert "users *unknown*" in blocks_text(updated.args)

    # Every seat held: no button either.
    stack.sandbox.clear_faults()
    stack.sandbox.set_account("acme", "axiom", users=10, seed=1)
    updated = await post_digest(stack, force=True)
    assert not [a for a in buttons_of(updated.args) if a.startswith("rightsize")]


async def test_an_owners_click_opens_the_preset_form_and_confirm_applies_once(
    stack: Stack,
) -> None:
    top = await post_digest(stack)
    view = await open_from_digest(stack, top)
    assert preset_of(view) == "8"  # the users that exist
    text = blocks_text({"blocks": view["blocks"]})
    assert "*$30.97 back as credit on your next invoice*" in text  # the live preview
    assert json.loads(view["private_metadata"])["src"] == "digest"

    prompt = await submit(stack, view, "8")
    assert prompt.args["channel"] == CHANNEL
    assert prompt.args["user"] == "U_OWNER"
    assert "10 → 8 seats" in blocks_text(prompt.args)
    # Two clicks on Confirm at once (a double click, a retry): applied once.
    before = stack._seq()
    await asyncio.gather(
        stack.send_click(prompt, ids.CONFIRM_ACTION), stack.send_click(prompt, ids.CONFIRM_ACTION)
    )
    await stack.settle()
    answers = [c for c in stack.standin.calls("response_url") if c.seq > before]
    assert len(answers) == 2
    assert axiom_seats(stack) == 8
    [change] = applied(stack)
    assert change.source == "digest"

    # The source is recorded: in the audit trail (what `seatbot audit --json` prints) ...
    trail = stack.service.audit_trail(stack.seeded.account_id)
    created = [e for e in trail if e.action == "request.created"]
    done = [e for e in trail if e.action == "request.applied"]
    assert [e.details.get("source") for e in created] == ["digest"]
    assert [e.details.get("source") for e in done] == ["digest"]
    # ... and in the webhook event's data.
    with stack.sessions() as session:
        bodies = [json.loads(row.body) for row in session.scalars(select(OutboxEvent))]
    [event] = [b for b in bodies if b["type"] == "seat_change.applied"]
    assert event["data"]["source"] == "digest"

    # The next digest says what it saved (2 × $30.00 a month), and offers no button.
    stack.clock.advance(timedelta(days=1))
    tomorrow = await post_digest(stack)
    assert "Saved $60.00 a month from 1 suggested removal this period." in blocks_text(
        tomorrow.args
    )
    assert not [a for a in buttons_of(tomorrow.args) if a.startswith("rightsize_remove")]


async def test_two_forms_from_two_clicks_apply_the_decrease_once(stack: Stack) -> None:
    top = await post_digest(stack)
    before = stack._seq()
    # Two clicks at once on the digest's button: two forms, each filled in.
    await asyncio.gather(click_message(stack, top, REMOVE), click_message(stack, top, REMOVE))
    await stack.settle()
    opened = [c for c in stack.standin.calls("views.open") if c.seq > before]
    assert len(opened) == 2
    first, second = (stack.standin.view(c.response["view"]["id"]) for c in opened)
    assert preset_of(first) == preset_of(second) == "8"
    prompts = [await submit(stack, first, "8"), await submit(stack, second, "8")]
    await asyncio.gather(*(stack.send_click(p, ids.CONFIRM_ACTION) for p in prompts))
    await stack.settle()
    assert axiom_seats(stack) == 8
    assert len(applied(stack)) == 1


async def test_anyone_else_is_refused_alone_and_learns_nothing(stack: Stack) -> None:
    top = await post_digest(stack)
    thread = thread_of(stack, top)
    for user in ("U_VIEWER", "U_MANAGER", "U_STRANGER"):
        for message, action in ((top, REMOVE), (thread, ids.RIGHTSIZE_RECHECK_ACTION)):
            before = stack._seq()
            await click_message(stack, message, action, user=user)
            answer = await stack.next_call("response_url", before)
            assert answer.args["response_type"] == "ephemeral"  # to the clicker alone
            assert answer.args.get("replace_original") is False  # the digest stays as it is
            said = blocks_text(answer.args)
            for figure in ("$", "users", "unused", "seats you"):
                assert figure not in said, said
            await stack.settle()
            sent = [c.method for c in stack.standin.calls() if c.seq > before]
            assert [m for m in sent if m != "auth.test"] == ["response_url"]
    assert stack.standin.calls("views.open") == []
    assert stack.requests() == []


async def test_a_stale_button_opens_with_todays_figures(stack: Stack) -> None:
    top = await post_digest(stack)  # 10 seats, 8 users: "Remove 2 unused Axiom seats"
    # Since then: the owner added 2 seats, and one more user was created on Axiom.
    grown = await stack.command("set 12 axiom")
    await stack.click(grown, ids.CONFIRM_ACTION)
    stack.sandbox.set_account("acme", "axiom", users=9, seed=1)
    view = await open_from_digest(stack, top)
    assert "*Now:* 12 seats · 9 users on Axiom" in blocks_text({"blocks": view["blocks"]})
    assert preset_of(view) == "9"


async def test_check_again_tells_the_owner_what_can_be_removed_now(stack: Stack) -> None:
    top = await post_digest(stack)
    thread = thread_of(stack, top)
    assert "I removed some of them — check again" in blocks_text(thread.args)
    for user in stack.sandbox.users("acme", "axiom")[:2]:  # the owner deleted two on Axiom
        assert stack.sandbox.delete_user("acme", "axiom", user["id"])
    before = stack._seq()
    await click_message(stack, thread, ids.RIGHTSIZE_RECHECK_ACTION)
    answer = await stack.next_call("response_url", before)
    assert answer.args["response_type"] == "ephemeral"
    said = blocks_text(answer.args)
    assert "*Axiom* now: 10 seats, 6 users" in said
    assert "4 unused seats (held by nobody) can be removed now ($120.00 a month)." in said
    offered = buttons_of(answer.args)
    assert offered[REMOVE]["text"]["text"] == "Remove 4 unused Axiom seats"
    # Seatbot deleted nobody on the platform.
    assert len(stack.sandbox.users("acme", "axiom")) == 6
