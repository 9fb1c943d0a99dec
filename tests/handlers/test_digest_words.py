"""The digest's words (issues 21 and 19 item 8): findings that never overlap nor exceed the
spend, one word for each idea, counts that add up, no empty section, "vs yesterday / vs last
week", "since the last digest" only after one, and the right-size button only where unused
seats are known."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st
from slack_sdk.models.blocks import Block

from billing.money import Money
from billing.periods import Interval
from billing.products import Product
from billing.reports.facts import AccountReconciliation, DigestFacts, TrendPoint
from billing.reports.rules import ProductReconciliation, count_users, reconcile_product
from billing.requests import RequestStatus
from billing.users import Level, PlatformUser, UserListing, UserStatus
from billing.views import AccountView, SeatChangeView
from handlers import ids
from handlers.views import Message
from handlers.views.digest import details_messages, digest_messages, findings, saving_text
from tests.handlers.test_views import change, proration

AT = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
WHERE = ZoneInfo("Europe/London")
ACCOUNT = AccountView(7, "acme", "Acme", "USD", "Europe/London", "T1", "C1")


def user(n: int, *, active: bool, days_idle: int | None) -> PlatformUser:
    return PlatformUser(
        platform_id=str(n),
        email=f"u{n}@example.com",
        name=f"User {n}",
        extension=100 + n,
        level=Level.AGENT,
        status=UserStatus.ACTIVE if active else UserStatus.INACTIVE,
        last_active_at=None if days_idle is None else AT - timedelta(days=days_idle),
    )


def product(
    seats: int, users: list[PlatformUser] | None, *, which: Product = Product.CONTACT_CENTER
) -> ProductReconciliation:
    listing = UserListing.complete(users) if users is not None else UserListing.unknown("down")
    return reconcile_product(
        which,
        seats=seats,
        unit_price=Money.parse("30.00", "USD"),
        interval=Interval.MONTHLY,
        listing=listing,
        at=AT,
    )


def facts(
    *products: ProductReconciliation,
    after_digest: bool = False,
    trend: tuple[TrendPoint, ...] = (),
    pending: tuple[SeatChangeView, ...] = (),
) -> DigestFacts:
    run = AccountReconciliation(ACCOUNT, 1, AT, AT.date(), products, {}, None)
    return DigestFacts(
        ACCOUNT,
        AT,
        AT - timedelta(days=1),
        run,
        (),
        (),
        (),
        pending,
        None,
        trend,
        after_digest=after_digest,
    )


def text_of(messages: list[Message]) -> str:
    parts = []
    for m in messages:
        for block in m.blocks:
            assert Block.parse(block.to_dict()) is not None
        parts.append(str([b.to_dict() for b in m.blocks]))
    return "\n".join(parts)


# The issue's example: 25 seats, 23 users, 4 inactive, 18 idle 30+ days (some both).
ISSUE = [
    *(user(n, active=False, days_idle=40) for n in range(2)),  # inactive and idle
    *(user(n, active=False, days_idle=3) for n in range(2, 4)),  # inactive, recently active
    *(user(n, active=True, days_idle=45) for n in range(4, 20)),  # idle 30+ days
    *(user(n, active=True, days_idle=1) for n in range(20, 23)),  # in use
]


def test_the_issues_account_is_said_once_without_overlap_and_adds_up() -> None:
    found = product(25, ISSUE)
    counts = found.users
    assert counts is not None
    assert (counts.total, counts.inactive, counts.idle, counts.not_using) == (23, 4, 18, 20)
    # 2 unused + 20 seats of idle users = 22 seats = $660.00 of the $750.00 spent.
    assert saving_text(found) == (
        "$660.00 a month — 2 unused seats ($60.00), 20 seats held by idle users ($600.00)"
    )
    shown = text_of(digest_messages(facts(found), WHERE))
    assert "*$660.00 a month could be saved* of $750.00 spent" in shown
    assert "23 users, 20 idle (4 inactive)" in shown
    # One word per idea: no "inactive for 30+ days", no "release", no overlapping lines.
    assert "inactive for 30+ days" not in shown
    assert "release" not in shown
    assert "held by inactive users" not in shown
    # The thread's count adds up: 20 idle = 4 inactive + 16 with no activity for 30+ days.
    thread = text_of(details_messages(facts(found).run, WHERE))
    assert "20 idle users (4 inactive, 16 with no activity for 30+ days)" in thread


def test_empty_sections_are_left_out_and_since_says_when_truthfully() -> None:
    shown = text_of(digest_messages(facts(product(10, [])), WHERE))
    assert "Proration" not in shown
    assert "none" not in shown.lower().replace("nobody", "")
    assert "Since the last digest" not in shown
    assert "In the last 24 hours" not in shown  # nothing happened: no section at all


def test_the_trend_is_vs_yesterday_and_vs_last_week() -> None:
    found = product(10, [user(n, active=True, days_idle=1) for n in range(8)])
    day = AT.date()
    trend = (
        TrendPoint(day - timedelta(days=1), Product.CONTACT_CENTER, 10, 6),
        TrendPoint(day - timedelta(days=7), Product.CONTACT_CENTER, 12, 9),
    )
    shown = text_of(digest_messages(facts(found, trend=trend), WHERE))
    assert "vs yesterday: seats ±0, users +2 · vs last week: seats −2, users −1" in shown
    assert "since the last run" not in shown


def test_the_right_size_button_is_where_unused_seats_are_known_only() -> None:
    unused = product(10, [user(n, active=True, days_idle=1) for n in range(7)])
    full = product(3, [user(n, active=True, days_idle=1) for n in range(3)], which=Product.AXIOM)
    unknown = product(5, None, which=Product.MATRIX)
    [message] = digest_messages(facts(unused, full, unknown), WHERE)
    buttons = [
        e
        for b in message.blocks
        if b.type == "actions"
        for e in b.to_dict()["elements"]
        if e["action_id"].startswith("rightsize")
    ]
    assert [(b["action_id"], b["text"]["text"], b["value"]) for b in buttons] == [
        (
            f"{ids.RIGHTSIZE_ACTION}_contact_center",
            "Remove 3 unused Contact Center seats",
            "7:contact_center",
        )
    ]


@given(
    seats=st.integers(0, 60),
    kinds=st.lists(st.tuples(st.booleans(), st.one_of(st.none(), st.integers(0, 90))), max_size=80),
    price=st.integers(0, 10**6),
    currency=st.sampled_from(["USD", "JPY", "KWD"]),
)
def test_the_findings_never_overlap_nor_exceed_the_spend(
    seats: int, kinds: list[tuple[bool, int | None]], price: int, currency: str
) -> None:
    users = [user(n, active=a, days_idle=d) for n, (a, d) in enumerate(kinds)]
    found = reconcile_product(
        Product.AXIOM,
        seats=seats,
        unit_price=Money(price, currency),
        interval=Interval.MONTHLY,
        listing=UserListing.complete(users),
        at=AT,
    )
    counts = count_users(users, AT)
    assert max(counts.inactive, counts.idle) <= counts.not_using <= counts.total
    unused, idle = found.unused_seats or 0, found.idle_seats or 0
    assert unused + idle == found.saving_seats
    assert found.saving_seats <= seats
    assert idle <= counts.not_using
    assert found.saving_cost is not None
    assert found.saving_cost.minor <= found.spend.minor
    # What the digest says adds up to its total, in money too.
    text = saving_text(found)
    if found.saving_seats:
        assert text is not None
        said = [int(n) for n in re.findall(r"(\d+) (?:unused )?seats?\b", text)]
        assert sum(said) == found.saving_seats
    else:
        assert text is None
        assert not [f for f in findings(found, WHERE) if "save" in f]


def test_since_the_last_digest_is_said_only_after_one() -> None:
    waiting = replace(change(7, Product.AXIOM, proration(10, 8)), status=RequestStatus.DRAFT)
    found = product(10, [])
    before = text_of(digest_messages(facts(found, pending=(waiting,)), WHERE))
    assert "Since the last digest" not in before
    assert "*In the last 24 hours* (since <!date^" in before
    assert "no digest was posted before" in before
    assert "Requests waiting" in before
    after = text_of(digest_messages(facts(found, pending=(waiting,), after_digest=True), WHERE))
    assert "*Since the last digest* (<!date^" in after


def test_the_cli_table_says_could_be_saved_with_the_digests_figure() -> None:
    """`seatbot reconcile`'s table and the digest use one word and one figure: 2 unused seats
    plus the 3 seats of users not using theirs (one inactive, two idle 30+ days) = 5."""
    from rich.console import Console

    from bot.cli.report_documents import reconciliation_table

    users = [user(1, active=False, days_idle=None), user(2, active=True, days_idle=40)]
    users += [user(3, active=True, days_idle=31), user(4, active=True, days_idle=1)]
    found = product(6, users)
    assert found.saving_seats == 2 + 3
    run = AccountReconciliation(ACCOUNT, 1, AT, AT.date(), (found,), {}, None)
    console = Console(record=True, width=250)
    console.print(reconciliation_table([run]))
    shown = console.export_text()
    assert "Could be saved" in shown
    assert "Releasable" not in shown
    assert "5 ($150.00)" in shown
    assert saving_text(found) == (
        "$150.00 a month — 2 unused seats ($60.00), 3 seats held by idle users ($90.00)"
    )
