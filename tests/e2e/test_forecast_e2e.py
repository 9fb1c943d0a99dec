"""The next invoice over signed HTTP, on both databases: ``/seats status`` and App Home show each
product's renewal day (the account's) and amount at today's seats; a decrease waiting for
approval is listed beside it, not added in; the day follows the account's zone and the clock."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from seats_stack import Stack, blocks_text

from billing.approvals.rules import ApprovalPolicy
from billing.models import Account
from billing.setup.store import apply_approval_policy
from handlers import ids

pytestmark = pytest.mark.slow

NEXT = "*Next invoice* at today's seats"
#: Acme's Axiom: 10 seats × $30.00 a month, anchored on 1 Jan 2026; the clock is 16 Jan 12:00 UTC.
TODAY = "• *Axiom*: $300.00 on 1 Feb 2026 — 10 seats × $30.00 a month"


async def home_of(stack: Stack, user: str) -> str:
    """Open ``user``'s App Home tab (an ``app_home_opened`` event); the text published."""
    mark = stack._seq()
    await stack.driver.event(
        {"type": "app_home_opened", "user": user, "channel": "D1", "tab": "home"}
    )
    [call] = await stack.standin.wait_for(
        "views.publish", within_s=10, where=lambda c: c.seq > mark
    )
    assert call.args["user_id"] == user
    view: Any = call.args["view"]
    return blocks_text(json.loads(view) if isinstance(view, str) else view)


async def test_status_and_home_show_the_next_invoice_to_every_role(stack: Stack) -> None:
    for user in ("U_OWNER", "U_MANAGER", "U_VIEWER"):
        status = blocks_text((await stack.command("status", user=user)).args)
        assert NEXT in status
        assert TODAY in status
        home = await home_of(stack, user)
        assert NEXT in home
        assert TODAY in home
    # Someone without a role in acme sees neither.
    nobody = blocks_text((await stack.command("status", user="U_NOBODY")).args)
    assert "Next invoice" not in nobody
    assert "Next invoice" not in await home_of(stack, "U_NOBODY")


async def test_a_decrease_waiting_for_approval_is_beside_the_forecast_not_in_it(
    stack: Stack,
) -> None:
    with stack.sessions.begin() as session:
        account = session.get(Account, stack.seeded.account_id)
        assert account is not None
        apply_approval_policy(session, account, ApprovalPolicy(require_decrease=True))
    prompt = await stack.command("remove 2 axiom")  # 10 → 8 seats, 8 users exist
    waiting = await stack.click(prompt, ids.CONFIRM_ACTION)
    assert "Waiting for approval" in blocks_text(waiting.args)
    beside = "• Waiting for approval, not included: Axiom 10 → 8 seats ($240.00 if approved)"
    status = blocks_text((await stack.command("status")).args)
    assert TODAY in status  # still today's 10 seats
    assert beside in status
    home = await home_of(stack, "U_OWNER")
    assert TODAY in home
    assert beside in home


async def test_the_renewal_day_is_the_accounts_and_moves_with_the_clock(stack: Stack) -> None:
    # 03:00 UTC on 1 Feb is 31 Jan, 19:00 in Los Angeles: January's period still runs there.
    with stack.sessions.begin() as session:
        account = session.get(Account, stack.seeded.account_id)
        assert account is not None
        account.timezone = "America/Los_Angeles"
    stack.clock.now = datetime(2026, 2, 1, 3, 0, tzinfo=UTC)
    status = blocks_text((await stack.command("status")).args)
    assert TODAY in status
    # Once it is 1 Feb in Los Angeles, the next renewal is 1 Mar.
    stack.clock.now = datetime(2026, 2, 1, 9, 0, tzinfo=UTC)
    status = blocks_text((await stack.command("status")).args)
    assert "• *Axiom*: $300.00 on 1 Mar 2026 — 10 seats × $30.00 a month" in status
    assert "1 Mar 2026" in await home_of(stack, "U_OWNER")
