"""An approval decision checks the request's deadline and target itself, over signed HTTP.

Approving a request whose target another change already reached closes it truthfully (its
``seat_change.cancelled`` event, an audit line naming the approver, every approval message
stamped with what happened, the owner told, the approver told the truth); a decision after the
policy's ``expire_after`` finds the request expired, as the scheduler would have left it, even
when the scheduler is stopped. ``seatbot check`` is clean after each.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from seats_stack import Stack, blocks_text, buttons_of, start_stack
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from test_approval_flow import by_channel, click_on

from billing.approvals.rules import ApprovalPolicy
from billing.events.store import OutboxEvent
from billing.models import Account, AuditEvent
from billing.setup.store import apply_approval_policy
from bot.offline.standin import RecordedCall
from bot.offline.standin.slack_driver import button, text_input_value
from handlers import ids

pytestmark = pytest.mark.slow

#: Every increase needs approval; requests are posted to the approvals channel too.
INCREASES = ApprovalPolicy(increase_over_seats=0, channel_id="C_APPROVALS")
#: The same, and a request nobody decided within 8 hours expires.
EXPIRING = ApprovalPolicy(
    increase_over_seats=0, channel_id="C_APPROVALS", expire_after=timedelta(hours=8)
)


@pytest.fixture
async def stopped_scheduler(
    seed: Any, session_factory: sessionmaker[Session], db_url: str
) -> AsyncIterator[Stack]:
    """The stack without its scheduler: time passes and no tick expires anything."""
    async with start_stack(
        seed, session_factory, db_url, settings={"seatbot_scheduler": False}
    ) as running:
        yield running


def use_policy(stack: Stack, policy: ApprovalPolicy) -> None:
    with stack.sessions.begin() as session:
        account = session.get_one(Account, stack.seeded.account_id)
        apply_approval_policy(session, account, policy)


async def submit(stack: Stack, text: str) -> tuple[int, dict[str, RecordedCall]]:
    """``/seats text`` and Confirm by the owner: the request's id and its approval messages
    by channel (the manager's DM, the approvals channel)."""
    prompt = await stack.command(text)
    mark = stack._seq()
    await stack.click(prompt, ids.CONFIRM_ACTION)
    posts = await stack.standin.wait_for(
        "chat.postMessage", count=2, within_s=10, where=lambda call: call.seq > mark
    )
    value = buttons_of(posts[0].args)[ids.APPROVE_ACTION]["value"]
    return int(value.split(".")[0]), by_channel(posts)


async def settled_messages(
    stack: Stack, posts: dict[str, RecordedCall], mark: int
) -> tuple[list[str], str]:
    """How each approval message of ``posts`` was stamped after ``mark`` (no button left on
    any; the approvals channel's post keeps its stamp: only the approver's own DM may be
    replaced by the answer to their click), and the owner's notice sent after ``mark``."""
    where = {(str(p.response["channel"]), str(p.response["ts"])) for p in posts.values()}
    updates = await stack.standin.wait_for(
        "chat.update",
        count=len(posts),
        within_s=10,
        where=lambda call: call.seq > mark and (call.args["channel"], call.args["ts"]) in where,
    )
    assert all(buttons_of(update.args) == {} for update in updates)
    channel = posts["C_APPROVALS"].response
    post = stack.standin.message(str(channel["channel"]), str(channel["ts"]))
    assert post is not None
    assert buttons_of(post) == {}
    [notice] = await stack.standin.wait_for(
        "chat.postMessage",
        within_s=10,
        where=lambda call: call.seq > mark and call.args["channel"] == "U_OWNER",
    )
    stamps = [blocks_text(update.args) for update in updates]
    return [*stamps, blocks_text(post)], blocks_text(notice.args)


def event_types(stack: Stack, request_id: int) -> list[str]:
    with stack.sessions() as session:
        rows = session.scalars(
            select(OutboxEvent).where(OutboxEvent.request_id == request_id).order_by(OutboxEvent.id)
        )
        return [row.event_type for row in rows]


def closing_audit(stack: Stack, request_id: int) -> tuple[str, str, dict[str, Any]]:
    """The request's last audit line: action, actor and details."""
    with stack.sessions() as session:
        rows = session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
    mine = [r for r in rows if json.loads(r.details or "{}").get("request_id") == request_id]
    last = mine[-1]
    return last.action, last.actor, json.loads(last.details or "{}")


def status_of(stack: Stack, request_id: int) -> str:
    return str(stack.service.get_request(request_id).status)


def ledger_size(stack: Stack) -> int:
    return len(stack.service.ledger(stack.seeded.account_id))


async def test_approving_a_request_whose_target_was_reached_closes_it_truthfully(
    stack: Stack,
) -> None:
    use_policy(stack, INCREASES)
    _, first_posts = await submit(stack, "set 12 axiom")
    second, second_posts = await submit(stack, "set 12 axiom")  # the same increase again
    applied = await click_on(stack, first_posts["U_MANAGER"], ids.APPROVE_ACTION, user="U_MANAGER")
    assert "Done." in blocks_text(applied.args)
    await stack.settle()
    assert ledger_size(stack) == 2

    mark = stack._seq()
    answer = await click_on(stack, second_posts["U_MANAGER"], ids.APPROVE_ACTION, user="U_MANAGER")
    told = blocks_text(answer.args)
    assert "Axiom already has 12 seats" in told
    assert "Cancelled by the requester" not in told
    assert "Already decided" not in told
    shown, notice = await settled_messages(stack, second_posts, mark)
    for text in [*shown, notice]:
        assert "Axiom already had 12 seats" in text
        assert "<@U_MANAGER>" in text
        assert "Cancelled by the requester" not in text
    assert status_of(stack, second) == "cancelled"
    assert event_types(stack, second) == ["seat_change.requested", "seat_change.cancelled"]
    action, actor, details = closing_audit(stack, second)
    assert (action, actor, details["reason"]) == ("request.cancelled", "slack:T_ACME:U_MANAGER",
                                                  "no_change")  # fmt: skip
    assert ledger_size(stack) == 2
    assert stack.service.check_invariants().violations == ()


async def test_an_approval_after_the_deadline_finds_the_request_expired(
    stopped_scheduler: Stack,
) -> None:
    stack = stopped_scheduler
    use_policy(stack, EXPIRING)
    request_id, posts = await submit(stack, "set 12 axiom")
    stack.clock.advance(timedelta(hours=9))  # past expire_after; no tick expired it

    mark = stack._seq()
    answer = await click_on(stack, posts["U_MANAGER"], ids.APPROVE_ACTION, user="U_MANAGER")
    told = blocks_text(answer.args)
    assert "expired" in told
    # The deadline in each reader's own time, the account's as the fallback.
    assert "<!date^" in told
    assert "16 Jan 2026, 20:00" in told
    assert "Done." not in told
    shown, notice = await settled_messages(stack, posts, mark)
    for text in [*shown, notice]:
        assert "Expired without a decision" in text
    assert status_of(stack, request_id) == "expired"
    assert ledger_size(stack) == 0
    assert event_types(stack, request_id) == ["seat_change.requested", "seat_change.expired"]
    action, actor, details = closing_audit(stack, request_id)
    assert (action, actor) == ("request.expired", "system")
    assert details["late_decision_by"] == "slack:T_ACME:U_MANAGER"
    assert stack.service.check_invariants().violations == ()

    # A second click is told what became of it; nothing more is sent or written.
    again = await click_on(stack, posts["C_APPROVALS"], ids.APPROVE_ACTION, user="U_MANAGER")
    assert "Already decided" in blocks_text(again.args)
    assert event_types(stack, request_id) == ["seat_change.requested", "seat_change.expired"]


async def test_an_approval_just_before_the_deadline_still_applies(
    stopped_scheduler: Stack,
) -> None:
    stack = stopped_scheduler
    use_policy(stack, EXPIRING)
    request_id, posts = await submit(stack, "set 12 axiom")
    stack.clock.advance(timedelta(hours=8) - timedelta(seconds=1))
    answer = await click_on(stack, posts["U_MANAGER"], ids.APPROVE_ACTION, user="U_MANAGER")
    assert "Done." in blocks_text(answer.args)
    assert status_of(stack, request_id) == "applied"


async def test_a_denial_after_the_deadline_finds_the_request_expired(
    stopped_scheduler: Stack,
) -> None:
    stack = stopped_scheduler
    use_policy(stack, EXPIRING)
    request_id, posts = await submit(stack, "set 12 axiom")
    mark = stack._seq()
    element = buttons_of(posts["U_MANAGER"].args)[ids.DENY_ACTION]
    await stack.driver.block_action(
        button(ids.DENY_ACTION, element["value"], block_id=element["block_id"]),
        user_id="U_MANAGER",
        channel_id="U_MANAGER",
        message=dict(posts["U_MANAGER"].response["message"]),
    )
    opened = await stack.next_call("views.open", mark)
    view = stack.standin.view(opened.response["view"]["id"])
    stack.clock.advance(timedelta(hours=9))  # the form was left open past the deadline

    mark = stack._seq()
    reason = {ids.DENY_REASON_BLOCK: {ids.DENY_REASON_ACTION: text_input_value("Too many")}}
    sent = await stack.driver.view_submission(view, user_id="U_MANAGER", values=reason)
    assert sent.status_code == 200
    [told] = await stack.standin.wait_for(
        "chat.postMessage",
        within_s=10,
        where=lambda call: call.seq > mark and call.args["channel"] == "U_MANAGER",
    )
    assert "expired" in blocks_text(told.args)
    shown, notice = await settled_messages(stack, posts, mark)
    for text in [*shown, notice]:
        assert "Expired without a decision" in text
        assert "Denied" not in text
    assert status_of(stack, request_id) == "expired"
    assert event_types(stack, request_id) == ["seat_change.requested", "seat_change.expired"]
    assert stack.service.check_invariants().violations == ()
