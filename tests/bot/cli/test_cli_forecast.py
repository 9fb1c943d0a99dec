"""``seatbot forecast`` on SQLite and PostgreSQL: the JSON contract with hand-computed figures in
three currencies, three intervals, a month-end anchor and a zone whose day is not UTC's; the
table for people; an unknown account; a request waiting for approval listed beside, not added."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from billing.access import Caller
from billing.approvals.rules import ApprovalPolicy
from billing.models import Account
from billing.periods import Interval, zone
from billing.seats.outcomes import AwaitingApproval, ReadyToConfirm
from billing.seats.service import SeatChanges
from billing.setup.store import apply_approval_policy
from billing.users import UserListing
from bot.cli import shell
from tests.bot.cli.conftest import RunSeatbot
from tests.conftest import Seed, add_subscription

#: 12:00 UTC on 28 Feb 2026: already 1 Mar in Auckland, still 28 Feb in London and 21:00 in Tokyo.
NOW = datetime(2026, 2, 28, 12, 0, tzinfo=UTC)
ISO_INSTANT = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def _waiting_decrease(
    sessions: sessionmaker[Session], account_id: int, subscription_id: int
) -> int:
    """A decrease of the subscription to 8 seats, waiting for a manager's approval; its id."""
    with sessions.begin() as session:
        account = session.get(Account, account_id)
        assert account is not None
        apply_approval_policy(session, account, ApprovalPolicy(require_decrease=True))
    owner = Caller("T_ACME", "U_OWNER")
    changes = SeatChanges(sessions)
    none = UserListing.complete([])
    draft = changes.request_by_form(
        owner,
        account_id=account_id,
        subscription_id=subscription_id,
        new_seats=8,
        at=NOW,
        users=none,
    )
    assert isinstance(draft, ReadyToConfirm)
    waiting = changes.confirm(owner, request_id=draft.request.id, revision=1, at=NOW, users=none)
    assert isinstance(waiting, AwaitingApproval)
    return draft.request.id


@pytest.fixture
def accounts(
    seed: Seed, session_factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> int:
    """acme (USD, London): Axiom 10 × $30.00 monthly anchored on 31 Jan, Contact Center
    32 × $30.00 monthly; kaisha (JPY, Tokyo): Matrix 3 × ¥4,500 quarterly anchored on 30 Nov;
    souq (KWD, Auckland): Axiom 5 × KWD 5.900 yearly anchored on 1 Mar. Returns the id of acme's
    Axiom decrease waiting for approval (10 → 8)."""
    monkeypatch.setattr(shell, "utc_now", lambda: NOW)
    acme = seed(
        "acme", product="axiom", seats=10, unit_price_minor=3000, currency="USD",
        timezone="Europe/London", anchor=date(2026, 1, 31), at=NOW,
    )  # fmt: skip
    with session_factory.begin() as session:
        account = session.get(Account, acme.account_id)
        assert account is not None
        add_subscription(
            session, account, "contact_center", 32, 3000, Interval.MONTHLY, date(2026, 1, 1), NOW
        )
    seed(
        "kaisha", product="matrix", seats=3, unit_price_minor=4500, currency="JPY",
        timezone="Asia/Tokyo", interval=Interval.QUARTERLY, anchor=date(2025, 11, 30),
        team_id="T_KAISHA", at=NOW,
    )  # fmt: skip
    seed(
        "souq", product="axiom", seats=5, unit_price_minor=5900, currency="KWD",
        timezone="Pacific/Auckland", interval=Interval.ANNUAL, anchor=date(2025, 3, 1),
        team_id="T_SOUQ", at=NOW,
    )  # fmt: skip
    return _waiting_decrease(session_factory, acme.account_id, acme.subscription_id)


def test_json_is_the_contract_with_the_hand_computed_figures(
    run_seatbot: RunSeatbot, db_url: str, accounts: int
) -> None:
    done = run_seatbot(["forecast", "--json"], {"DATABASE_URL": db_url})
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert set(document) == {"generated_at", "accounts"}
    assert ISO_INSTANT.match(document["generated_at"])
    assert datetime.fromisoformat(document["generated_at"]) == NOW
    by_name = {a["account"]: a for a in document["accounts"]}
    assert list(by_name) == ["acme", "kaisha", "souq"]
    for entry in document["accounts"]:
        assert set(entry) == {"account", "currency", "products", "pending"}
        for product in entry["products"]:
            assert set(product) == {"product", "seats", "unit_price", "renews_on", "amount"}
            assert isinstance(product["seats"], int)
    assert by_name["acme"]["currency"] == "USD"
    assert by_name["acme"]["products"] == [
        # Anchored on 31 Jan: 31 Jan → 28 Feb → 31 Mar (the month's end again, not the 28th);
        # today's 10 seats, not the 8 waiting for approval.
        {"product": "axiom", "seats": 10, "unit_price": "30.00",
         "renews_on": "2026-03-31", "amount": "300.00"},
        # Anchored on 1 Jan: the March period starts on 1 Mar.
        {"product": "contact_center", "seats": 32, "unit_price": "30.00",
         "renews_on": "2026-03-01", "amount": "960.00"},
    ]  # fmt: skip
    assert by_name["acme"]["pending"] == [
        {"request_id": accounts, "product": "axiom", "from_seats": 10, "to_seats": 8,
         "amount_if_approved": "240.00"},
    ]  # fmt: skip
    assert by_name["kaisha"] == {
        "account": "kaisha",
        "currency": "JPY",
        # Quarterly from 30 Nov: 28 Feb (clamped) → 30 May; 21:00 on 28 Feb in Tokyo.
        "products": [{"product": "matrix", "seats": 3, "unit_price": "4500",
                      "renews_on": "2026-05-30", "amount": "13500"}],
        "pending": [],
    }  # fmt: skip
    assert by_name["souq"] == {
        "account": "souq",
        "currency": "KWD",
        # Yearly from 1 Mar: in Auckland it is already 1 Mar 2026, so the next is 1 Mar 2027.
        "products": [{"product": "axiom", "seats": 5, "unit_price": "5.900",
                      "renews_on": "2027-03-01", "amount": "29.500"}],
        "pending": [],
    }  # fmt: skip


def test_one_account_and_the_table_for_people(
    run_seatbot: RunSeatbot, db_url: str, accounts: int
) -> None:
    done = run_seatbot(["forecast", "souq", "--json"], {"DATABASE_URL": db_url})
    assert done.returncode == 0, done.stderr
    assert [a["account"] for a in json.loads(done.stdout)["accounts"]] == ["souq"]
    done = run_seatbot(["forecast", "acme"], {"DATABASE_URL": db_url})
    assert done.returncode == 0, done.stderr
    lines = [" ".join(line.split()) for line in done.stdout.splitlines()]
    assert "Axiom 10 $30.00 a month 31 Mar 2026 $300.00" in lines
    assert "Contact Center 32 $30.00 a month 1 Mar 2026 $960.00" in lines
    assert (
        f"waiting for approval (not included): Axiom 10 → 8 seats, $240.00 if approved "
        f"(request {accounts})" in lines
    )
    assert "kaisha" not in done.stdout
    done = run_seatbot(["forecast", "souq"], {"DATABASE_URL": db_url})
    squeezed = " ".join(done.stdout.split())
    assert "Axiom 5 KWD 5.900 a year 1 Mar 2027 KWD 29.500" in squeezed
    assert "waiting for approval" not in squeezed


def test_an_unknown_account_is_one_line_and_exit_2(
    run_seatbot: RunSeatbot, db_url: str, accounts: int
) -> None:
    done = run_seatbot(["forecast", "acme2", "--json"], {"DATABASE_URL": db_url})
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr == "seatbot: no account named 'acme2' (see `seatbot accounts`)\n"


def test_the_forecast_is_what_renewal_then_bills(
    run_seatbot: RunSeatbot, db_url: str, accounts: int, session_factory: sessionmaker[Session]
) -> None:
    """The day and amount the forecast names are the renewal the ledger gets on that day."""
    from billing.books.service import SeatService

    done = run_seatbot(["forecast", "souq", "--json"], {"DATABASE_URL": db_url})
    [product] = json.loads(done.stdout)["accounts"][0]["products"]
    service = SeatService(session_factory)
    souq = service.account_by_name("souq")
    assert souq is not None
    [sub] = service.subscriptions(souq.id, NOW)
    renews_on = date.fromisoformat(product["renews_on"])
    midnight = datetime.combine(renews_on, datetime.min.time(), zone(souq.timezone))
    assert service.renew(sub.id, midnight - timedelta(seconds=1)) == []
    [renewal] = service.renew(sub.id, midnight)
    assert renewal.amount.to_decimal_string() == product["amount"]
    assert renewal.period_start == midnight
