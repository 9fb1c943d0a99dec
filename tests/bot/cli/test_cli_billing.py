"""The billing commands end to end through typer, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import typer
from cryptography.fernet import Fernet
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from billing.access import Caller
from billing.books.service import SeatService
from billing.models import Base
from billing.seats.outcomes import ChangeApplied, ReadyToConfirm, UsersNeeded, UsersSource
from billing.seats.service import SeatChanges
from billing.users import Level, PlatformUser, UserListing, UserStatus
from bot.cli import billing as cli_billing
from bot.cli import database as cli_database
from bot.cli import shell
from bot.runtime.db import head_revision
from handlers import views

NOW = datetime(2026, 1, 16, 9, 30, tzinfo=UTC)
EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "accounts.yml"
TEST_TOKEN_KEY = Fernet.generate_key().decode()


def _app(users: UsersSource | None = None) -> typer.Typer:
    app = typer.Typer()
    app.callback()(lambda: None)
    cli_database.register(app)
    cli_billing.register(app, users=users)
    return app


@pytest.fixture
def run(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("SEATBOT_TOKEN_KEYS", TEST_TOKEN_KEY)  # PostgreSQL stores nothing in clear
    # The CLI reads the clock (it is the shell); pin it so loads land in January 2026.
    monkeypatch.setattr(shell, "utc_now", lambda: NOW)

    def _run(*args: str, users: UsersSource | None = None) -> tuple[int, str, str]:
        result = CliRunner().invoke(_app(users), list(args))
        return result.exit_code, result.stdout, result.stderr

    return _run


def _dump(session_factory: sessionmaker[Session]) -> dict[str, list[dict[str, Any]]]:
    with session_factory() as session:
        return {
            table.name: [
                dict(row._mapping)
                for row in session.execute(select(table).order_by(*table.primary_key.columns))
            ]
            for table in Base.metadata.sorted_tables
        }


def test_db_upgrade(run: Any) -> None:
    code, out, _ = run("db", "upgrade")
    assert code == 0
    assert f"is already up to date (schema {head_revision()})" in out


def test_db_upgrade_says_what_it_did(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    database = tmp_path / "new.db"
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{database}")
    first = CliRunner().invoke(_app(), ["db", "upgrade"])
    again = CliRunner().invoke(_app(), ["db", "upgrade"])
    assert (first.exit_code, again.exit_code) == (0, 0)
    assert first.stdout.strip() == (
        f"created the database at {database} (schema {head_revision()})"
    )
    assert again.stdout.strip() == (
        f"the database at {database} is already up to date (schema {head_revision()})"
    )


def test_load_twice_is_idempotent(run: Any, session_factory: sessionmaker[Session]) -> None:
    code, out, err = run("load", str(EXAMPLE))
    assert code == 0, err
    assert "acme: account created" in out
    before = _dump(session_factory)
    code, out, _ = run("load", str(EXAMPLE))
    assert code == 0
    assert out.strip() == "nothing to change"
    assert _dump(session_factory) == before


def test_a_broken_file_writes_nothing(
    run: Any, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    assert run("load", str(EXAMPLE))[0] == 0
    before = _dump(session_factory)
    text = EXAMPLE.read_text().replace("seats: 12", "seats: many", 1)
    text = text.replace('unit_price: "1000"', 'unit_price: "1000.5"', 1)
    broken = tmp_path / "broken.yml"
    broken.write_text(text)
    line = text.splitlines().index("        seats: many") + 1
    code, out, err = run("load", str(broken))
    assert code == 2
    assert out == ""
    assert f"line {line}: accounts[0].subscriptions[1].seats" in err
    assert "accounts[1].subscriptions[0].unit_price" in err
    assert _dump(session_factory) == before


def test_accounts_json_never_shows_credentials(run: Any) -> None:
    run("load", str(EXAMPLE))
    code, out, _ = run("accounts", "--json")
    assert code == 0
    document = json.loads(out)
    acme = document["accounts"][0]
    assert acme["name"] == "acme"
    assert {s["product"] for s in acme["subscriptions"]} == {"contact_center", "axiom"}
    assert acme["subscriptions"][1]["unit_price"] == "30.00"
    assert acme["subscriptions"][1]["currency"] == "USD"
    code, text_out, _ = run("accounts")
    assert code == 0
    assert "acme · Acme Telecom Ltd · USD · Europe/London" in text_out
    assert "1 Jan 2026 – 31 Jan 2026" in text_out  # the last day, not the exclusive end
    for shown in (out, text_out):
        assert "sandbox-api-key" not in shown
        assert "api_key" not in shown


def test_quote_prints_the_proration(run: Any) -> None:
    run("load", str(EXAMPLE))
    code, out, err = run("quote", "acme", "contact_center", "27", "--at", "2026-01-16", "--json")
    assert code == 0, err
    document = json.loads(out)
    # London is on UTC in January: 16 of 31 days remain.
    assert document["fraction"] == "16/31"
    assert document["lines"] == [
        {"kind": "credit", "quantity": 25, "amount": "-387.10"},
        {"kind": "charge", "quantity": 27, "amount": "418.06"},
    ]
    assert (document["amount"], document["currency"]) == ("30.96", "USD")
    assert document["platform_check"]["status"] == "not_needed"
    code, out, _ = run("quote", "acme", "cc", "27", "--at", "2026-01-16")
    assert code == 0
    assert "-$387.10" in out
    assert "$30.96" in out
    # For people: the account's zone, the inclusive last day, days rather than a fraction.
    assert "1 Jan 2026 – 31 Jan 2026" in out
    assert "16 Jan 2026, 00:00 (Europe/London)" in out
    assert "16 of 31 days" in out
    assert "16/31" not in out


def test_quote_runs_the_platform_check_for_decreases(run: Any) -> None:
    run("load", str(EXAMPLE))
    asked: list[str] = []
    on_platform = [
        PlatformUser(f"u{n}", f"user{n}@acme.test", f"User {n}", 100 + n, Level.AGENT, status)
        for n, status in enumerate([UserStatus.INACTIVE] * 2 + [UserStatus.ACTIVE] * 20)
    ]

    def users(needed: UsersNeeded) -> UserListing:
        asked.append(needed.product.value)
        return UserListing.complete(on_platform)

    code, out, _ = run(
        "quote", "acme", "contact_center", "20", "--at", "2026-01-16", "--json", users=users
    )
    assert code == 0
    assert asked == ["contact_center"]
    assert json.loads(out)["platform_check"] == {
        "status": "blocked",
        "detail": "22 users exist on Contact Center; delete 2 there first "
        "(likeliest: user0@acme.test, user1@acme.test)",
    }


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("quote", "nobody", "axiom", "3"), "no account named 'nobody' (see `seatbot accounts`)"),
        (("quote", "acme", "zoom", "3"), "'zoom' is not a product"),
        (("quote", "globex", "axiom", "3"), "globex has no Axiom subscription"),
        (("quote", "acme", "axiom", "three"), "SEATS: must be a whole number from 0 to 10,000"),
        (("quote", "acme", "axiom", "-1"), "SEATS: must be a whole number from 0 to 10,000"),
        (("quote", "acme", "axiom", "--", "-1"), "SEATS: must be a whole number"),
        (("quote", "acme", "axiom", "10001"), "SEATS: must be a whole number from 0 to 10,000"),
        (("quote", "acme", "axiom", "12"), "SEATS: Axiom already has 12 seats"),
        (("quote", "acme", "axiom", "3", "--at", "yesterday"), "--at"),
        (("ledger", "nobody"), "no account named 'nobody' (see `seatbot accounts`)"),
        (("ledger", "acme", "--json", "--csv"), "cannot be combined"),
    ],
)
def test_bad_input_exits_2_with_a_message(run: Any, args: tuple[str, ...], words: str) -> None:
    run("load", str(EXAMPLE))
    code, out, err = run(*args)
    assert code == 2
    assert out == ""
    assert words in err


def test_ledger_formats(run: Any, session_factory: sessionmaker[Session]) -> None:
    run("load", str(EXAMPLE))
    service = SeatService(session_factory)
    acme = service.account_by_name("acme")
    assert acme is not None
    now = datetime(2026, 1, 16, tzinfo=UTC)
    (sub,) = [s for s in service.subscriptions(acme.id, now) if s.product.value == "contact_center"]
    changes = SeatChanges(session_factory)
    owner = Caller(acme.team_id, "U0ACMEOWNER")
    prompt = changes.request_by_form(
        owner, account_id=acme.id, subscription_id=sub.id, new_seats=27, at=now
    )
    assert isinstance(prompt, ReadyToConfirm)
    applied = changes.confirm(owner, request_id=prompt.request.id, revision=1, at=now)
    assert isinstance(applied, ChangeApplied)
    code, out, _ = run("ledger", "acme", "--json")
    assert code == 0
    document = json.loads(out)
    assert document["currency"] == "USD"
    assert [e["kind"] for e in document["entries"]] == ["credit", "charge"]
    assert document["total"] == "30.96"  # 16/31 of a period for 2 more seats at 30.00
    code, out, _ = run("ledger", "acme", "--csv")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [(r["kind"], r["amount"], r["currency"]) for r in rows] == [
        ("credit", "-387.10", "USD"),
        ("charge", "418.06", "USD"),
    ]
    code, out, _ = run("ledger", "acme")
    assert code == 0
    assert "$418.06" in out


KUWAIT = """\
accounts:
  - name: kuwait
    currency: KWD
    timezone: Asia/Tokyo
    slack:
      team_id: T0KUWAIT1
    members:
      - user_id: U0KWOWNER
        role: owner
    subscriptions:
      - product: axiom
        seats: 6
        unit_price: "29.500"
        anchor: 2026-01-01
        proration: seconds
"""


def test_one_quote_reads_the_same_in_slack_and_in_the_cli(
    run: Any, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    """One quote, shown by ``seatbot quote`` and by the confirmation prompt in Slack: the
    money, the days, the instant and the share of the period are the same strings."""
    accounts = tmp_path / "kuwait.yml"
    accounts.write_text(KUWAIT, encoding="utf-8")
    assert run("load", str(accounts))[0] == 0
    at = datetime(2026, 1, 16, 9, 30, tzinfo=UTC)  # 18:30 in Tokyo: not a whole day
    code, cli_out, err = run("quote", "kuwait", "axiom", "8", "--at", at.isoformat())
    assert code == 0, err

    service = SeatService(session_factory)
    kuwait = service.account_by_name("kuwait")
    assert kuwait is not None
    (sub,) = service.subscriptions(kuwait.id, at)
    prompt = SeatChanges(session_factory).request_by_form(
        Caller(kuwait.team_id, "U0KWOWNER"),
        account_id=kuwait.id,
        subscription_id=sub.id,
        new_seats=8,
        at=at,
    )
    assert isinstance(prompt, ReadyToConfirm)
    message = views.outcome_message(prompt, ZoneInfo(kuwait.timezone))
    slack = json.dumps([block.to_dict() for block in message.blocks], ensure_ascii=False)

    # 6 → 8 seats at KWD 29.500; the Tokyo month runs 1–31 Jan, and from 18:30 on the 16th
    # 1,315,800 of its 2,678,400 seconds remain (49.126…%), each line rounded half-up to fils.
    shown = [
        "-KWD\u00a086.954",  # the credit: 6 × 29.500 × 1315800/2678400 = 86.9536…
        "KWD\u00a0115.938",  # the charge: 8 × 29.500 × 1315800/2678400 = 115.9381…
        "KWD\u00a028.984",  # the net
        "1 Jan 2026 – 31 Jan 2026",
        "16 Jan 2026, 18:30 (Asia/Tokyo)",
        "15 days 5 h 30 min of 31 days",  # 1,315,800 s left, to the minute
    ]
    for text in shown:
        assert text in slack, text
        assert text in cli_out, text


def test_quote_of_a_decrease_exits_1_when_the_platform_cannot_be_read(run: Any) -> None:
    run("load", str(EXAMPLE))

    def users(needed: UsersNeeded) -> UserListing:
        return UserListing.unknown(
            "Contact Center did not answer; nothing was changed; ask the operator to check it."
        )

    code, out, err = run("quote", "acme", "cc", "20", "--at", "2026-01-16", "--json", users=users)
    assert code == 1  # the README's failure: the decrease would be refused
    assert json.loads(out)["platform_check"]["status"] == "unknown"  # JSON still on stdout
    assert err.count("seatbot:") == 1
    assert "Contact Center did not answer" in err
    # The operator reads the CLI: nobody sends them to the operator.
    assert "operator" not in err.lower()
    assert "operator" not in out.lower()
    assert "check it" in err


def test_garbage_token_keys_are_one_line_and_exit_2(
    run: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    run("load", str(EXAMPLE))
    monkeypatch.setenv("SEATBOT_TOKEN_KEYS", "garbage")
    # A decrease reads the platform with the stored (encrypted) credentials.
    code, out, err = run("quote", "acme", "cc", "20", "--at", "2026-01-16")
    assert code == 2, (out, err)
    assert err.count("\n") == 1
    assert err.startswith("seatbot: SEATBOT_TOKEN_KEYS: key number 1 is not a valid Fernet key")
    assert "garbage" not in err


def test_quote_at_outside_the_subscription_names_its_days_in_the_accounts_zone(
    run: Any,
) -> None:
    run("load", str(EXAMPLE))
    code, out, err = run("quote", "globex", "matrix", "5", "--at", "2025-06-01")
    assert (code, out) == (2, "")
    assert "started on 1 Jan 2026 (Asia/Tokyo)" in err  # in UTC it is still 31 Dec 2025
    code, out, err = run("quote", "globex", "matrix", "5", "--at", "2026-03-01")
    assert (code, out) == (2, "")
    # The period running on 16 Jan (the pinned clock) is January: its last day, included.
    assert "its last day is 31 Jan 2026 (Asia/Tokyo)" in err
    assert "2026-" not in err


def test_load_of_a_csv_says_it_looks_like_a_csv(run: Any, tmp_path: Path) -> None:
    users = tmp_path / "users.csv"
    users.write_text("User_name,Email,Ext_number\nAda,ada@example.com,101\n", encoding="utf-8")
    code, out, err = run("load", str(users))
    assert (code, out) == (2, "")
    assert err.startswith(f"seatbot: {users}: this looks like a CSV file"), err
    assert err.count("\n") == 1
