"""Loading accounts from YAML: validation with line and field, idempotent apply."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from billing.models import Base, Member, Subscription
from bot.loader import ConfigError, apply_config, load_file, parse_config

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "accounts.yml"
AT = datetime(2026, 1, 10, 12, tzinfo=UTC)

MINIMAL = """\
accounts:
  - name: acme
    currency: USD
    slack:
      team_id: T0ACME001
    members:
      - user_id: U0OWNER01
        role: owner
    subscriptions:
      - product: axiom
        seats: 10
        unit_price: "30.00"
        anchor: 2026-01-01
"""


def dump(session_factory: sessionmaker[Session]) -> dict[str, list[dict[str, Any]]]:
    """Every row of every billing table, for comparing whole database states."""
    with session_factory() as session:
        return {
            table.name: [
                dict(row._mapping)
                for row in session.execute(select(table).order_by(*table.primary_key.columns))
            ]
            for table in Base.metadata.sorted_tables
        }


def test_the_example_file_is_valid_and_covers_every_product() -> None:
    config = load_file(EXAMPLE)
    assert [a.name for a in config.accounts] == ["acme", "globex", "initech"]
    products = {s.product.value for a in config.accounts for s in a.subscriptions}
    assert products == {"contact_center", "axiom", "matrix"}
    kinds = {p.kind.value for a in config.accounts for p in a.platforms}
    assert kinds == {"api", "import_file"}
    globex = config.accounts[1]
    assert globex.platforms[0].file_path is not None
    assert Path(globex.platforms[0].file_path).is_file()
    # JPY has no minor unit, KWD three: prices parse exactly in the account's currency.
    assert globex.subscriptions[0].unit_price_minor == 1000
    assert config.accounts[2].subscriptions[0].unit_price_minor == 9750


def test_loading_twice_leaves_the_same_state(session_factory: sessionmaker[Session]) -> None:
    config = load_file(EXAMPLE)
    with session_factory.begin() as session:
        first = apply_config(session, config, AT)
    assert first.changed
    before = dump(session_factory)
    with session_factory.begin() as session:
        second = apply_config(session, load_file(EXAMPLE), datetime(2026, 1, 20, tzinfo=UTC))
    assert second.changes == ()
    assert dump(session_factory) == before
    assert len(before["accounts"]) == 3
    assert len(before["subscriptions"]) == 5


def test_reloading_updates_in_place_but_never_overwrites_seats(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory.begin() as session:
        apply_config(session, parse_config(MINIMAL), AT)
    with session_factory.begin() as session:
        # Seats changed through Seatbot since the load.
        sub = session.scalars(select(Subscription)).one()
        sub.seats, sub.version = 14, 2
    changed = (
        MINIMAL.replace('"30.00"', '"32.00"')
        .replace("seats: 10", "seats: 3")
        .replace("role: owner", "role: manager")
    )
    with session_factory.begin() as session:
        report = apply_config(session, parse_config(changed), AT)
    assert any("unit_price_minor" in change for change in report.changes)
    with session_factory() as session:
        sub = session.scalars(select(Subscription)).one()
        assert (sub.seats, sub.unit_price_minor, sub.version) == (14, 3200, 3)
        assert session.scalars(select(Member.role)).all() == ["manager"]
    without_members = MINIMAL.replace(
        "    members:\n      - user_id: U0OWNER01\n        role: owner\n", ""
    )
    with session_factory.begin() as session:
        report = apply_config(session, parse_config(without_members), AT)
    assert any("removed" in change for change in report.changes)
    with session_factory() as session:
        assert session.scalars(select(Member)).all() == []


def test_currency_cannot_change_under_existing_subscriptions(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory.begin() as session:
        apply_config(session, parse_config(MINIMAL), AT)
    before = dump(session_factory)
    with pytest.raises(ConfigError) as caught, session_factory.begin() as session:
        apply_config(session, parse_config(MINIMAL.replace("USD", "EUR")), AT)
    assert caught.value.problems[0].line == 2
    assert "currency" in caught.value.problems[0].field
    assert dump(session_factory) == before


@pytest.mark.parametrize(
    ("old", "new", "line", "field", "words"),
    [
        ("currency: USD", "currency: USX", 3, "accounts[0].currency", "unknown currency"),
        ("role: owner", "role: boss", 8, "accounts[0].members[0].role", "not one of"),
        ("seats: 10", "seats: -2", 11, "accounts[0].subscriptions[0].seats", "whole number"),
        ('"30.00"', '"30.001"', 12, "accounts[0].subscriptions[0].unit_price", "decimals"),
        ("2026-01-01", "2026-02-30", 13, "accounts[0].subscriptions[0].anchor", "not a date"),
        ("product: axiom", "product: zoom", 10, "accounts[0].subscriptions[0].product", "zoom"),
        ("team_id: T0ACME001", "team_id: acme team", 5, "accounts[0].slack.team_id", "Slack id"),
        ("name: acme", "name: Acme Ltd", 2, "accounts[0].name", "slug"),
        ("    currency: USD\n", "    currency: USD\n    colour: red\n", 4, "colour", "unknown"),
        ("    currency: USD\n", "    currency: USD\n    currency: EUR\n", 4, "currency", "twice"),
        ("    currency: USD\n", "", 2, "accounts[0].currency", "required"),
        ("        anchor: 2026-01-01\n", "        anchor: [2026\n", 14, "(syntax)", ""),
    ],
)
def test_a_broken_file_names_line_and_field(
    old: str, new: str, line: int, field: str, words: str
) -> None:
    assert old in MINIMAL
    with pytest.raises(ConfigError) as caught:
        parse_config(MINIMAL.replace(old, new, 1))
    problems = caught.value.problems
    assert any(p.line == line and field in p.field and words in p.message for p in problems), [
        str(p) for p in problems
    ]
    assert f"line {line}" in caught.value.message


def test_every_problem_is_reported_at_once() -> None:
    broken = MINIMAL.replace("USD", "USX").replace("role: owner", "role: boss")
    with pytest.raises(ConfigError) as caught:
        parse_config(broken)
    assert [p.line for p in caught.value.problems] == [3, 8]


def test_platform_connections_are_checked(tmp_path: Path) -> None:
    text = MINIMAL + (
        "    platforms:\n"
        "      - product: axiom\n"
        "        kind: api\n"
        "      - product: matrix\n"
        "        kind: import_file\n"
        "        file_path: missing.csv\n"
    )
    with pytest.raises(ConfigError) as caught:
        parse_config(text, base_dir=tmp_path)
    messages = {p.field: (p.line, p.message) for p in caught.value.problems}
    assert messages["accounts[0].platforms[0].base_url"] == (15, "is required for kind api")
    line, message = messages["accounts[0].platforms[1].file_path"]
    assert line == 19
    assert "no such file" in message


@given(
    major=st.integers(min_value=0, max_value=10**9),
    minor=st.integers(min_value=0, max_value=99),
)
def test_prices_parse_exactly_from_the_source_text(major: int, minor: int) -> None:
    text = MINIMAL.replace('"30.00"', f"{major}.{minor:02d}")  # unquoted: a YAML float
    config = parse_config(text)
    assert config.accounts[0].subscriptions[0].unit_price_minor == major * 100 + minor


def test_options_are_stored_as_json(session_factory: sessionmaker[Session]) -> None:
    with session_factory.begin() as session:
        apply_config(session, load_file(EXAMPLE), AT)
    rows = dump(session_factory)["platform_connections"]
    axiom = next(r for r in rows if r["product"] == "axiom" and r["base_url"].endswith("/axiom"))
    options = json.loads(axiom["options"])
    assert options["login_email"] == "admin@acme.example"
    assert options["page_size"] == 100
    assert options["paths"]["users"] == "/api/v1/users"
