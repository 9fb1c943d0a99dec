"""The next invoice over signed HTTP, on both databases: ``/seats status`` and App Home show each
product's renewal day (the account's) and amount at today's seats, figures worked out by hand in
three currencies and three intervals; a decrease waiting for approval is listed beside it, not
added in; the day follows the account's zone and the clock."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import pytest
from seats_stack import Stack, blocks_text

from billing.approvals.rules import ApprovalPolicy
from billing.models import Account
from billing.periods import Interval
from billing.setup.store import apply_approval_policy
from handlers import ids
from tests.conftest import Seed, add_subscription

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


@dataclass(frozen=True)
class Renewal:
    """A subscription to seed, and its line in the next invoice, worked out by hand."""

    product: str
    seats: int
    unit_price_minor: int
    interval: Interval
    anchor: date
    line: str


#: 12:00 UTC on 28 Feb 2026: 07:00 on 28 Feb in New York, 21:00 on 28 Feb in Tokyo, and already
#: 01:00 on 1 Mar in Auckland (NZDT, UTC+13).
AT = datetime(2026, 2, 28, 12, 0, tzinfo=UTC)
KWD = "KWD\u00a0"  # a currency in letters is set apart by a no-break space
#: (account, currency, zone): its subscriptions and the renewal each must show. The day is the
#: first of the next period in the account's zone; the amount, seats × unit price.
RENEWALS = {
    ("brooklyn", "USD", "America/New_York"): (
        # Month-end anchor: 31 Jan → 28 Feb → 31 Mar; it is 28 Feb there. 12 × $30.00 = $360.00
        Renewal("axiom", 12, 3000, Interval.MONTHLY, date(2026, 1, 31),
                "• *Axiom*: $360.00 on 31 Mar 2026 — 12 seats × $30.00 a month"),
        # 15 Jan → 15 Apr. 4 × $45.50 = $182.00
        Renewal("matrix", 4, 4550, Interval.QUARTERLY, date(2026, 1, 15),
                "• *Matrix*: $182.00 on 15 Apr 2026 — 4 seats × $45.50 a quarter"),
        # 1 Jul 2025 → 1 Jul 2026. 32 × $30.00 = $960.00
        Renewal("contact_center", 32, 3000, Interval.ANNUAL, date(2025, 7, 1),
                "• *Contact Center*: $960.00 on 1 Jul 2026 — 32 seats × $30.00 a year"),
    ),
    ("kaisha", "JPY", "Asia/Tokyo"): (
        # 30 Nov → 28 Feb (no 30 Feb) → 30 May; 21:00 on 28 Feb there. 3 × ¥4,500 = ¥13,500
        Renewal("matrix", 3, 4500, Interval.QUARTERLY, date(2025, 11, 30),
                "• *Matrix*: ¥13,500 on 30 May 2026 — 3 seats × ¥4,500 a quarter"),
        # 1 Feb → 1 Mar. 7 × ¥3,300 = ¥23,100
        Renewal("axiom", 7, 3300, Interval.MONTHLY, date(2026, 1, 1),
                "• *Axiom*: ¥23,100 on 1 Mar 2026 — 7 seats × ¥3,300 a month"),
        # 1 Apr 2025 → 1 Apr 2026. 20 × ¥4,000 = ¥80,000
        Renewal("contact_center", 20, 4000, Interval.ANNUAL, date(2025, 4, 1),
                "• *Contact Center*: ¥80,000 on 1 Apr 2026 — 20 seats × ¥4,000 a year"),
    ),
    # Already 1 Mar in Auckland: each period starting on 1 Mar has begun (in UTC, none had).
    ("souq", "KWD", "Pacific/Auckland"): (
        # 1 Mar 2026 → 1 Mar 2027 (in UTC: 1 Mar 2026). 5 × KWD 5.900 = KWD 29.500
        Renewal("axiom", 5, 5900, Interval.ANNUAL, date(2025, 3, 1),
                f"• *Axiom*: {KWD}29.500 on 1 Mar 2027 — 5 seats × {KWD}5.900 a year"),
        # 1 Mar → 1 Apr (in UTC: 1 Mar). 2 × KWD 12.250 = KWD 24.500
        Renewal("matrix", 2, 12250, Interval.MONTHLY, date(2026, 1, 1),
                f"• *Matrix*: {KWD}24.500 on 1 Apr 2026 — 2 seats × {KWD}12.250 a month"),
        # 1 Dec → 1 Mar → 1 Jun (in UTC: 1 Mar). 3 × KWD 1.125 = KWD 3.375
        Renewal("contact_center", 3, 1125, Interval.QUARTERLY, date(2025, 12, 1),
                f"• *Contact Center*: {KWD}3.375 on 1 Jun 2026 — 3 seats × {KWD}1.125 a quarter"),
    ),
}  # fmt: skip


async def test_the_next_invoice_in_three_currencies_and_intervals_is_the_hand_worked_one(
    stack: Stack, seed: Seed
) -> None:
    for (name, currency, timezone), renewals in RENEWALS.items():
        first, *others = renewals
        seeded = seed(
            name, product=first.product, seats=first.seats,
            unit_price_minor=first.unit_price_minor, currency=currency, timezone=timezone,
            interval=first.interval, anchor=first.anchor, at=AT,
        )  # fmt: skip
        with stack.sessions.begin() as session:
            account = session.get(Account, seeded.account_id)
            assert account is not None
            for r in others:
                add_subscription(
                    session, account, r.product, r.seats, r.unit_price_minor, r.interval,
                    r.anchor, AT,
                )  # fmt: skip
    stack.clock.now = AT
    every_line = [r.line for renewals in RENEWALS.values() for r in renewals]
    for (name, _, _), renewals in RENEWALS.items():
        status = blocks_text((await stack.command(f"status {name}")).args)
        mine = [r.line for r in renewals]
        assert [line for line in every_line if line in status] == mine, (name, status)
    # App Home shows every account the owner holds, each with its own next invoice.
    home = await home_of(stack, "U_OWNER")
    assert [line for line in every_line if line in home] == every_line
