"""Approval over signed HTTP: a decrease routed to the manager, approved, denied (with a
reason), cancelled; the right messages to the right people; the ledger changed only on
approve."""

from __future__ import annotations

import json
from typing import Any

import pytest
from seats_stack import NOW, Stack, blocks_text, buttons_of

from billing.access import Caller
from billing.approvals.rules import ApprovalPolicy
from billing.models import Account, AuditEvent, Member
from billing.seats.outcomes import AwaitingApproval, ReadyToConfirm
from billing.seats.service import SeatChanges
from billing.setup.store import apply_approval_policy
from bot.offline.standin import RecordedCall
from handlers import ids

pytestmark = pytest.mark.slow


@pytest.fixture
def policy(stack: Stack) -> ApprovalPolicy:
    policy = ApprovalPolicy(require_decrease=True, channel_id="C_APPROVALS")
    with stack.sessions.begin() as session:
        account = session.get(Account, stack.seeded.account_id)
        assert account is not None
        apply_approval_policy(session, account, policy)
    return policy


async def submit_decrease(stack: Stack) -> tuple[RecordedCall, list[RecordedCall]]:
    """``/seats remove 2 axiom`` and Confirm: the owner's reply and the approvers' messages."""
    prompt = await stack.command("remove 2 axiom")  # 10 → 8 seats, 8 users exist
    mark = stack._seq()
    waiting = await stack.click(prompt, ids.CONFIRM_ACTION)
    posts = await stack.standin.wait_for(
        "chat.postMessage", count=2, within_s=10, where=lambda call: call.seq > mark
    )
    return waiting, posts


def by_channel(posts: list[RecordedCall]) -> dict[str, RecordedCall]:
    return {str(call.args["channel"]): call for call in posts}


async def click_on(stack: Stack, post: RecordedCall, action_id: str, *, user: str) -> RecordedCall:
    """Click a button of a message the app posted (not ephemeral: it carries its ts)."""
    element = buttons_of(post.args)[action_id]
    mark = stack._seq()
    from bot.offline.standin.slack_driver import button

    result = await stack.driver.block_action(
        button(action_id, element["value"], block_id=element["block_id"]),
        user_id=user,
        channel_id=str(post.response["channel"]),
        message=dict(post.response["message"]),
    )
    assert result.status_code == 200
    return await stack.next_call("response_url", mark)


def ledger_size(stack: Stack) -> int:
    return len(stack.service.ledger(stack.seeded.account_id))


async def test_a_decrease_is_approved_by_the_manager_and_everyone_is_told(
    stack: Stack, policy: ApprovalPolicy
) -> None:
    waiting, posts = await submit_decrease(stack)
    text = blocks_text(waiting.args)
    assert "Waiting for approval by <@U_MANAGER>" in text
    assert set(buttons_of(waiting.args)) == {ids.CANCEL_ACTION}
    assert ledger_size(stack) == 0
    posted = by_channel(posts)
    assert set(posted) == {"U_MANAGER", "C_APPROVALS"}
    ask = blocks_text(posted["U_MANAGER"].args)
    assert "<@U_OWNER> asks to change *Axiom* for *Acme*: 10 → 8 seats" in ask
    assert "*$30.97 back as credit on your next invoice*" in ask
    assert "From 1 Feb 2026: $240.00 a month, $60.00 less" in ask
    assert "Approving applies the change at once." in ask
    assert "8 users exist on Axiom" in ask
    assert set(buttons_of(posted["U_MANAGER"].args)) == {ids.APPROVE_ACTION, ids.DENY_ACTION}

    mark = stack._seq()
    done = await click_on(stack, posted["U_MANAGER"], ids.APPROVE_ACTION, user="U_MANAGER")
    assert "Done." in blocks_text(done.args)
    assert "Approved by <@U_MANAGER>" in blocks_text(done.args)
    assert done.args.get("replace_original") is True  # their own DM
    assert ledger_size(stack) == 2
    updates = await stack.standin.wait_for(
        "chat.update", count=2, within_s=10, where=lambda call: call.seq > mark
    )
    for update in updates:
        assert "Approved by <@U_MANAGER>" in blocks_text(update.args)
        assert buttons_of(update.args) == {}
    [notice] = await stack.standin.wait_for(
        "chat.postMessage",
        within_s=10,
        where=lambda call: call.seq > mark and call.args["channel"] == "U_OWNER",
    )
    assert "Approved by <@U_MANAGER>" in blocks_text(notice.args)

    # A second click (or a second approver) is told who decided, and nothing more happens.
    again = await click_on(stack, posted["C_APPROVALS"], ids.APPROVE_ACTION, user="U_MANAGER")
    assert "Already decided" in blocks_text(again.args)
    assert "Approved by <@U_MANAGER> <!date^" in blocks_text(again.args)
    assert "{time}|16 Jan 2026, 12:00 (UTC)>; applied." in blocks_text(again.args)
    assert ledger_size(stack) == 2
    # Clicked in the approvals channel: told to the clicker alone; the post keeps its stamp.
    assert (again.args.get("response_type"), again.args.get("replace_original")) == (
        "ephemeral",
        False,
    )
    channel = posted["C_APPROVALS"].response
    shown = stack.standin.message(str(channel["channel"]), str(channel["ts"]))
    assert shown is not None
    assert "Approved by <@U_MANAGER>" in blocks_text(shown)
    assert "Already decided" not in blocks_text(shown)


async def test_approving_in_the_channel_leaves_the_channel_only_the_stamp(
    stack: Stack, policy: ApprovalPolicy
) -> None:
    """The approvals channel's post is everyone's: the approver's answer is theirs alone, and
    the post changes only to say who decided and when."""
    _, posts = await submit_decrease(stack)
    channel = by_channel(posts)["C_APPROVALS"]
    done = await click_on(stack, channel, ids.APPROVE_ACTION, user="U_MANAGER")
    assert "Done." in blocks_text(done.args)
    assert (done.args.get("response_type"), done.args.get("replace_original")) == (
        "ephemeral",
        False,
    )
    assert ledger_size(stack) == 2
    shown = stack.standin.message(str(channel.response["channel"]), str(channel.response["ts"]))
    assert shown is not None
    assert "Approved by <@U_MANAGER>" in blocks_text(shown)
    assert "Done." not in blocks_text(shown)
    assert buttons_of(shown) == {}


async def test_deny_asks_why_and_tells_the_owner(stack: Stack, policy: ApprovalPolicy) -> None:
    _, posts = await submit_decrease(stack)
    posted = by_channel(posts)
    element = buttons_of(posted["U_MANAGER"].args)[ids.DENY_ACTION]
    from bot.offline.standin.slack_driver import button

    mark = stack._seq()
    await stack.driver.block_action(
        button(ids.DENY_ACTION, element["value"], block_id=element["block_id"]),
        user_id="U_MANAGER",
        channel_id="U_MANAGER",
        message=dict(posted["U_MANAGER"].response["message"]),
    )
    opened = await stack.next_call("views.open", mark)
    view = stack.standin.view(opened.response["view"]["id"])
    empty = await stack.driver.view_submission(view, user_id="U_MANAGER", values={})
    assert set(empty.json["errors"]) == {ids.DENY_REASON_BLOCK}
    # Control characters are no reason: they are dropped, and nothing is left.
    blank = {"type": "plain_text_input", "value": "\x00\n\t"}
    unsaid = await stack.driver.view_submission(
        view, user_id="U_MANAGER", values={ids.DENY_REASON_BLOCK: {ids.DENY_REASON_ACTION: blank}}
    )
    assert set(unsaid.json["errors"]) == {ids.DENY_REASON_BLOCK}
    mark = stack._seq()
    reason = {"type": "plain_text_input", "value": "Not this quarter <!channel>"}
    sent = await stack.driver.view_submission(
        view,
        user_id="U_MANAGER",
        values={ids.DENY_REASON_BLOCK: {ids.DENY_REASON_ACTION: reason}},
    )
    assert sent.status_code == 200
    updates = await stack.standin.wait_for(
        "chat.update", count=2, within_s=10, where=lambda call: call.seq > mark
    )
    for update in updates:
        assert "Denied by <@U_MANAGER>" in blocks_text(update.args)
        assert "Not this quarter" in blocks_text(update.args)
        assert "<!channel>" not in json.dumps(update.args)
    [notice] = await stack.standin.wait_for(
        "chat.postMessage",
        within_s=10,
        where=lambda call: call.seq > mark and call.args["channel"] == "U_OWNER",
    )
    assert "Denied by <@U_MANAGER>" in blocks_text(notice.args)
    assert ledger_size(stack) == 0
    assert [str(r.status) for r in stack.requests()] == ["denied"]


async def test_the_owner_cancels_while_pending(stack: Stack, policy: ApprovalPolicy) -> None:
    waiting, posts = await submit_decrease(stack)
    mark = stack._seq()
    cancelled = await stack.click(waiting, ids.CANCEL_ACTION)
    assert "Cancelled: Axiom stays at 10 seats" in blocks_text(cancelled.args)
    updates = await stack.standin.wait_for(
        "chat.update", count=2, within_s=10, where=lambda call: call.seq > mark
    )
    assert all("Cancelled by the requester" in blocks_text(u.args) for u in updates)
    late = await click_on(
        stack, by_channel(posts)["U_MANAGER"], ids.APPROVE_ACTION, user="U_MANAGER"
    )
    assert "Already decided" in blocks_text(late.args)
    assert ledger_size(stack) == 0


@pytest.mark.parametrize("intruder", ["U_OWNER", "U_VIEWER", "U_NOBODY"])
async def test_self_approval_and_non_approvers_are_refused_and_audited(
    stack: Stack, policy: ApprovalPolicy, intruder: str
) -> None:
    _, posts = await submit_decrease(stack)
    refused = await click_on(
        stack, by_channel(posts)["U_MANAGER"], ids.APPROVE_ACTION, user=intruder
    )
    text = blocks_text(refused.args)
    assert "Done." not in text
    assert "approve" in text.lower() or "approvers" in text.lower()
    assert ledger_size(stack) == 0
    with stack.sessions() as session:
        actions = [e.action for e in session.query(AuditEvent).order_by(AuditEvent.id)]
    assert "approval.refused" in actions


async def test_a_forged_request_id_from_another_account_is_refused_and_audited(
    stack: Stack, policy: ApprovalPolicy, seed: Any
) -> None:
    globex = seed("globex", team_id="T_GLOBEX")
    with stack.sessions.begin() as session:
        session.add(
            Member(
                account_id=globex.account_id, team_id="T_GLOBEX", user_id="U_MGR2", role="manager"
            )
        )
        account = session.get(Account, globex.account_id)
        assert account is not None
        apply_approval_policy(
            session, account, ApprovalPolicy(require_decrease=True, increase_over_seats=0)
        )
    owner = Caller("T_GLOBEX", "U_OWNER")
    changes = SeatChanges(stack.sessions)
    draft = changes.request_by_form(
        owner,
        account_id=globex.account_id,
        subscription_id=globex.subscription_id,
        new_seats=12,
        at=NOW,
    )
    assert isinstance(draft, ReadyToConfirm)
    pending = changes.confirm(owner, request_id=draft.request.id, revision=1, at=NOW)
    assert isinstance(pending, AwaitingApproval)
    # Acme's manager forges a click on Globex's pending request.
    reply = await stack.press(ids.APPROVE_ACTION, f"{draft.request.id}.1", user="U_MANAGER")
    text = blocks_text(reply.args)
    assert "no longer exists" in text
    assert "globex" not in text.lower()  # nothing about the other account leaks
    assert stack.service.ledger(globex.account_id) == []
    with stack.sessions() as session:
        refusals = (
            session.query(AuditEvent)
            .filter(AuditEvent.action == "approval.refused")
            .order_by(AuditEvent.id)
            .all()
        )
    assert len(refusals) == 1
    assert refusals[0].account_id == globex.account_id
    assert "U_MANAGER" in refusals[0].actor


async def test_an_approvals_channel_the_bot_is_not_in_is_told_to_the_requester(
    stack: Stack, policy: ApprovalPolicy, caplog: pytest.LogCaptureFixture
) -> None:
    """Slack refuses the approvals channel's post (``channel_not_found``): the approver still
    gets the card and can decide (it is stamped), the requester is told how to invite the bot,
    the operator reads one line; nothing else is lost."""
    stack.standin.strict_channels = True  # only channels added to the stand-in accept posts
    prompt = await stack.command("remove 2 axiom")
    mark = stack._seq()
    await stack.click(prompt, ids.CONFIRM_ACTION)
    posts = await stack.standin.wait_for(
        "chat.postMessage", count=3, within_s=10, where=lambda call: call.seq > mark
    )
    posted = by_channel(posts)
    assert set(posted) == {"U_MANAGER", "C_APPROVALS", "U_OWNER"}
    assert posted["C_APPROVALS"].response["ok"] is False
    notice = blocks_text(posted["U_OWNER"].args)
    assert "is with the approvers by direct message" in notice
    assert "I could not post it in <#C_APPROVALS>" in notice
    assert "`/invite @Seatbot`" in notice
    assert "Could not post approval request" in caplog.text
    assert "channel_not_found" in caplog.text

    # The manager's card was recorded despite the channel's refusal: the decision stamps it.
    mark = stack._seq()
    done = await click_on(stack, posted["U_MANAGER"], ids.APPROVE_ACTION, user="U_MANAGER")
    assert "Done." in blocks_text(done.args)
    [stamp] = await stack.standin.wait_for(
        "chat.update", within_s=10, where=lambda call: call.seq > mark
    )
    assert stamp.args["channel"] == posted["U_MANAGER"].response["channel"]
    assert "Approved by <@U_MANAGER>" in blocks_text(stamp.args)
