"""Notifications over signed HTTP: every message's fallback ``text`` escapes what people typed
exactly once and keeps Seatbot's own mentions as mentions (issue 16, defect 5: 109 of 286
messages showed ``&lt;@U…&gt;`` or ``&amp;lt;!channel&amp;gt;``)."""

from __future__ import annotations

import pytest
from fuzz_oracle import fallback_findings
from seats_stack import Stack, buttons_of

from billing.approvals.rules import ApprovalPolicy
from billing.models import Account
from billing.setup.store import apply_approval_policy
from bot.offline.standin.slack_driver import button, text_input_value
from handlers import ids

pytestmark = pytest.mark.slow

NAME = "R&D <!here>"  # the account's display name, as an operator might write it
REASON = "Not now & <!channel> &amp; <@U_VIEWER>"  # the manager's words


async def test_every_fallback_text_is_escaped_once_and_mentions_stay_mentions(
    stack: Stack,
) -> None:
    with stack.sessions.begin() as session:
        account = session.get_one(Account, stack.seeded.account_id)
        account.display_name = NAME
        apply_approval_policy(
            session, account, ApprovalPolicy(require_decrease=True, channel_id="C_APPROVALS")
        )
    start = stack._seq()
    status = await stack.command("status")
    assert "Seats for R&amp;D &lt;!here&gt;: Axiom: 10 seats" in status.args["text"]
    prompt = await stack.command("remove 2 axiom")
    mark = stack._seq()
    await stack.click(prompt, ids.CONFIRM_ACTION)
    posts = await stack.standin.wait_for(
        "chat.postMessage", count=2, within_s=10, where=lambda call: call.seq > mark
    )
    asked = next(call for call in posts if call.args["channel"] == "U_MANAGER")
    assert "for R&amp;D &lt;!here&gt;: $30.97 back as credit" in asked.args["text"]
    # The manager denies, with a reason.
    element = buttons_of(asked.args)[ids.DENY_ACTION]
    mark = stack._seq()
    await stack.driver.block_action(
        button(ids.DENY_ACTION, element["value"], block_id=element["block_id"]),
        user_id="U_MANAGER",
        channel_id="U_MANAGER",
        message=dict(asked.response["message"]),
    )
    opened = await stack.next_call("views.open", mark)
    view = stack.standin.view(opened.response["view"]["id"])
    mark = stack._seq()
    reason = {ids.DENY_REASON_BLOCK: {ids.DENY_REASON_ACTION: text_input_value(REASON)}}
    await stack.driver.view_submission(view, user_id="U_MANAGER", values=reason)
    updates = await stack.standin.wait_for(
        "chat.update", count=2, within_s=10, where=lambda call: call.seq > mark
    )
    [notice] = await stack.standin.wait_for(
        "chat.postMessage",
        within_s=10,
        where=lambda call: call.seq > mark and call.args["channel"] == "U_OWNER",
    )
    await stack.settle()
    said = "Denied by <@U_MANAGER> 16 Jan 2026, 12:00 (UTC). Reason: Not now &amp; "
    said += "&lt;!channel&gt; &amp;amp; &lt;@U_VIEWER&gt;"
    assert said in notice.args["text"]
    assert all(said in update.args["text"] for update in updates)
    calls = [call for call in stack.standin.calls() if call.seq > start]
    texts = [str(call.args["text"]) for call in calls if "text" in call.args]
    assert len(texts) >= 8
    assert [(text, fallback_findings(text, f"{NAME}\n{REASON}")) for text in texts] == [
        (text, []) for text in texts
    ]
