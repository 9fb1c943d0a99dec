"""Loading accounts from YAML: validation with line and field, idempotent apply, reports in
words, credentials encrypted."""

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

from billing.errors import ConfigurationError
from billing.models import AuditEvent, Base, Member, Subscription
from billing.setup.store import PlatformConnection
from bot.runtime.platform_credentials import unseal
from bot.runtime.secrets import TokenCipher
from bot.setup.loader import apply_config, load_file, parse_config

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "accounts.yml"
AT = datetime(2026, 1, 10, 12, tzinfo=UTC)
KEY = TokenCipher.new_key()
CIPHER = TokenCipher([KEY])

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


@pytest.fixture(autouse=True)
def token_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    """The key ``apply_config`` finds when it is not handed a cipher (PostgreSQL needs one)."""
    monkeypatch.setenv("SEATBOT_TOKEN_KEYS", KEY)


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
    assert (
        "acme: Axiom price $30.00 → $32.00 per seat (applies to changes and renewals from now on)"
        in report.changes
    )
    assert (
        "acme: Axiom seats: 14 kept — seat changes go through /seats (the file says 3)"
        in report.changes
    )
    assert not any("unit_price_minor" in change for change in report.changes)
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
    with pytest.raises(ConfigurationError) as caught, session_factory.begin() as session:
        apply_config(session, parse_config(MINIMAL.replace("USD", "EUR")), AT)
    assert caught.value.problems[0].line == 2
    assert "currency" in caught.value.problems[0].field
    assert dump(session_factory) == before


@pytest.mark.parametrize(
    ("old", "new", "line", "field", "words"),
    [
        ("currency: USD", "currency: USX", 3, "accounts[0].currency", "unknown currency"),
        ("role: owner", "role: boss", 8, "accounts[0].members[0].role", "not one of"),
        (
            "seats: 10",
            "seats: -3",
            11,
            "accounts[0].subscriptions[0].seats",
            "must be a whole number from 0 to 10,000 (the file says -3)",
        ),
        (
            "seats: 10",
            "seats: 10001",
            11,
            "accounts[0].subscriptions[0].seats",
            "must be a whole number from 0 to 10,000",
        ),
        ("seats: 10", "seats: ten", 11, "accounts[0].subscriptions[0].seats", "whole number"),
        ('"30.00"', '"30.001"', 12, "accounts[0].subscriptions[0].unit_price", "decimals"),
        ("2026-01-01", "2026-02-30", 13, "accounts[0].subscriptions[0].anchor", "not a date"),
        ("product: axiom", "product: zoom", 10, "accounts[0].subscriptions[0].product", "zoom"),
        (
            "team_id: T0ACME001",
            "team_id: acme team",
            5,
            "accounts[0].slack.team_id",
            "is not a Slack team id (like T0123ABCD)",
        ),
        (
            "team_id: T0ACME001\n",
            "team_id: T0ACME001\n      channel_id: seats\n",
            6,
            "accounts[0].slack.channel_id",
            "'seats' is not a Slack channel id (like C0123ABCD)",
        ),
        (
            "team_id: T0ACME001\n",
            "team_id: T0ACME001\n      channel_id: T0ACME001\n",  # the team's id, not a channel's
            6,
            "accounts[0].slack.channel_id",
            "'T0ACME001' is not a Slack channel id (like C0123ABCD)",
        ),
        (
            "    currency: USD\n",
            "    curency: USD\n",
            3,
            "accounts[0].curency",
            "unknown field (allowed: approval, billing_webhook, currency, ",
        ),
        ("    currency: USD\n", "    curency: USD\n", 3, "curency", "; did you mean currency?"),
        ("product: axiom", "prodcut: axiom", 10, "prodcut", "did you mean product?"),
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
    with pytest.raises(ConfigurationError) as caught:
        parse_config(MINIMAL.replace(old, new, 1))
    problems = caught.value.problems
    assert any(p.line == line and field in p.field and words in p.message for p in problems), [
        str(p) for p in problems
    ]
    assert f"line {line}" in caught.value.message


@pytest.mark.parametrize("channel", ["C0ACMESEATS", "G0ACMESEATS", "D0ACMESEATS"])
def test_a_channel_id_is_a_public_a_private_or_a_direct_channels(channel: str) -> None:
    slack = f"team_id: T0ACME001\n      channel_id: {channel}\n"
    config = parse_config(MINIMAL.replace("team_id: T0ACME001\n", slack, 1))
    assert config.accounts[0].channel_id == channel


APPROVAL = """\
    approval:
      approvers: [U0MANAGER1]
      channel_id: C0APPROVE1
      require_for:
        decrease: true
        net_charge_over: "500.00"
"""


@pytest.mark.parametrize(
    ("old", "new", "field", "message"),
    [
        ('"30.00"', '"-30.00"', "subscriptions[0].unit_price", "cannot be negative"),
        ("[U0MANAGER1]", "[manager]", "approval.approvers[0]", "'manager' is not a Slack user id"),
        (
            "C0APPROVE1",
            "approvals",
            "approval.channel_id",
            "'approvals' is not a Slack channel id (like C0123ABCD)",
        ),
        ("decrease: true", "decrease: maybe", "approval.require_for.decrease", "true or false"),
        ('"500.00"', '"-1.00"', "approval.require_for.net_charge_over", "cannot be negative"),
        ('"500.00"', '"5.001"', "approval.require_for.net_charge_over", "decimals"),
    ],
)
def test_a_wrong_value_is_named_with_its_field(
    old: str, new: str, field: str, message: str
) -> None:
    text = (MINIMAL + APPROVAL).replace(old, new, 1)
    with pytest.raises(ConfigurationError) as caught:
        parse_config(text)
    assert [(p.field, message in p.message) for p in caught.value.problems] == [
        (f"accounts[0].{field}", True)
    ]


def test_an_unknown_field_far_from_every_known_one_gets_no_guess() -> None:
    with pytest.raises(ConfigurationError) as caught:
        parse_config(MINIMAL.replace("    currency: USD\n", "    currency: USD\n    colour: red\n"))
    assert "did you mean" not in caught.value.message


@pytest.mark.parametrize(
    "text",
    [
        "User_name,Email,Ext_number,Password,Level_ID\nAda,ada@example.com,101,x,4\n",
        'User_name;Email;Ext_number\n"Ada, the first";ada@example.com;101\n',
        "User_name\tEmail\tExt_number\n",
    ],
)
def test_a_csv_given_as_yaml_says_it_looks_like_a_csv(text: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        parse_config(text)
    assert caught.value.message.startswith("this looks like a CSV file")
    assert "expected a mapping" not in caught.value.message
    assert ": :" not in caught.value.message


def test_a_yaml_document_that_is_not_a_mapping_says_what_the_file_needs() -> None:
    for text in ("hello\n", "- acme\n- globex\n"):
        with pytest.raises(ConfigurationError) as caught:
            parse_config(text)
        assert caught.value.message.startswith("this is not an accounts file: it must start")


def test_every_problem_is_reported_at_once() -> None:
    broken = MINIMAL.replace("USD", "USX").replace("role: owner", "role: boss")
    with pytest.raises(ConfigurationError) as caught:
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
    with pytest.raises(ConfigurationError) as caught:
        parse_config(text, base_dir=tmp_path)
    messages = {p.field: (p.line, p.message) for p in caught.value.problems}
    assert messages["accounts[0].platforms[0].base_url"] == (15, "is required for kind api")
    line, message = messages["accounts[0].platforms[1].file_path"]
    assert line == 19
    assert "no such file" in message


def test_a_user_files_encoding_is_an_option_checked_at_load(tmp_path: Path) -> None:
    (tmp_path / "users.csv").write_bytes(b"")
    connection = (
        "    platforms:\n"
        "      - product: matrix\n"
        "        kind: import_file\n"
        "        file_path: users.csv\n"
        "        options:\n"
        "          encoding: {}\n"
    )
    loaded = parse_config(MINIMAL + connection.format("shift_jis"), base_dir=tmp_path)
    (platform,) = loaded.accounts[0].platforms
    assert platform.options == {"encoding": "shift_jis"}
    with pytest.raises(ConfigurationError) as caught:
        parse_config(MINIMAL + connection.format("klingon"), base_dir=tmp_path)
    assert [str(p) for p in caught.value.problems] == [
        "line 19: accounts[0].platforms[0].options.encoding: 'klingon' is not a text encoding "
        "(for example utf-8, cp1252, shift_jis)"
    ]


@given(
    major=st.integers(min_value=0, max_value=10**9),
    minor=st.integers(min_value=0, max_value=99),
)
def test_prices_parse_exactly_from_the_source_text(major: int, minor: int) -> None:
    text = MINIMAL.replace('"30.00"', f"{major}.{minor:02d}")  # unquoted: a YAML float
    config = parse_config(text)
    assert config.accounts[0].subscriptions[0].unit_price_minor == major * 100 + minor


def test_options_keep_settings_readable_and_credentials_only_encrypted(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory.begin() as session:
        apply_config(session, load_file(EXAMPLE), AT, cipher=CIPHER)
    rows = dump(session_factory)["platform_connections"]
    axiom = next(r for r in rows if r["product"] == "axiom" and r["base_url"].endswith("/axiom"))
    assert json.loads(axiom["options"]) == {
        "page_size": 100,
        "paths": {"token": "/api/v1/auth/token", "users": "/api/v1/users"},
    }
    assert unseal(CIPHER, axiom["credentials_encrypted"]) == {
        "api_key": "sandbox-api-key",
        "login_email": "admin@acme.example",
    }
    for row in rows:
        assert "sandbox-api-key" not in json.dumps(row, default=str)
        assert "admin@acme.example" not in json.dumps(row, default=str)
    globex = next(r for r in rows if r["kind"] == "import_file")
    assert globex["credentials_encrypted"] is None


AXIOM_PLATFORM = """\
    platforms:
      - product: axiom
        kind: api
        base_url: https://axiom.example/api
        options:
          api_key: first-secret-api-key
          login_email: admin@acme.example
          page_size: 50
"""


def test_a_parsed_file_never_shows_credentials() -> None:
    config = parse_config(MINIMAL + AXIOM_PLATFORM)
    shown = repr(config) + str(config.accounts) + repr(dict(config.credentials))
    assert "first-secret-api-key" not in shown
    assert "admin@acme.example" not in shown
    [platform] = config.accounts[0].platforms
    assert dict(platform.options) == {"page_size": 50}
    assert platform.credentials_encrypted is None
    assert dict(config.credentials[("acme", platform.product)]) == {
        "api_key": "first-secret-api-key",
        "login_email": "admin@acme.example",
    }


@pytest.mark.parametrize(
    ("old", "new", "field", "words"),
    [
        ("page_size: 50", "pagesize: 50", "options.pagesize", "unknown field (allowed: api_key"),
        ("page_size: 50", "password: hunter22", "options.password", "unknown field"),
        (
            "api_key: first-secret-api-key",
            "api_key: {nested: first-secret-api-key}",
            "options.api_key",
            "expected a non-empty text value",
        ),
    ],
)
def test_options_are_either_known_settings_or_known_credentials(
    old: str, new: str, field: str, words: str
) -> None:
    with pytest.raises(ConfigurationError) as caught:
        parse_config((MINIMAL + AXIOM_PLATFORM).replace(old, new))
    assert any(field in p.field and words in p.message for p in caught.value.problems), [
        str(p) for p in caught.value.problems
    ]
    assert "first-secret-api-key" not in caught.value.message
    assert "hunter22" not in caught.value.message


def test_reload_reports_credentials_in_words_and_keeps_unchanged_ciphertext(
    session_factory: sessionmaker[Session],
) -> None:
    text = MINIMAL + AXIOM_PLATFORM
    with session_factory.begin() as session:
        added = apply_config(session, parse_config(text), AT, cipher=CIPHER)
    assert "acme: Axiom connection added (API at https://axiom.example/api, with credentials)" in (
        added.changes
    )
    before = dump(session_factory)
    with session_factory.begin() as session:
        again = apply_config(session, parse_config(text), AT, cipher=CIPHER)
    assert again.changes == ()
    assert not again.changed
    assert dump(session_factory) == before  # the very same ciphertext, not a fresh one

    rotated_key = text.replace("first-secret-api-key", "second-secret-api-key").replace(
        "page_size: 50", "page_size: 80"
    )
    with session_factory.begin() as session:
        report = apply_config(session, parse_config(rotated_key), AT, cipher=CIPHER)
    assert report.changes == (
        "acme: Axiom connection: settings changed (page_size)",
        "acme: Axiom connection: credentials changed",
    )
    with session_factory() as session:
        row = session.scalars(select(PlatformConnection)).one()
        assert unseal(CIPHER, row.credentials_encrypted)["api_key"] == "second-secret-api-key"
        details = [event.details for event in session.scalars(select(AuditEvent))]
    everything = " ".join(report.changes + added.changes) + " ".join(details)
    assert "secret-api-key" not in everything
    assert "admin@acme.example" not in everything
    assert '"credentials"' in details[-1]  # the audit trail names the field, not the value

    without = rotated_key.replace(
        "          api_key: second-secret-api-key\n          login_email: admin@acme.example\n", ""
    )
    with session_factory.begin() as session:
        removed = apply_config(session, parse_config(without), AT, cipher=CIPHER)
    assert removed.changes == ("acme: Axiom connection: credentials removed",)
    with session_factory() as session:
        assert session.scalars(select(PlatformConnection)).one().credentials_encrypted is None


def test_credentials_whose_key_was_lost_are_replaced_by_a_reload(
    session_factory: sessionmaker[Session],
) -> None:
    text = MINIMAL + AXIOM_PLATFORM
    with session_factory.begin() as session:
        apply_config(session, parse_config(text), AT, cipher=TokenCipher([TokenCipher.new_key()]))
    with session_factory.begin() as session:
        report = apply_config(session, parse_config(text), AT, cipher=CIPHER)
    assert report.changes == ("acme: Axiom connection: credentials changed",)
    with session_factory() as session:
        row = session.scalars(select(PlatformConnection)).one()
        assert unseal(CIPHER, row.credentials_encrypted)["api_key"] == "first-secret-api-key"


def test_differences_left_alone_are_reported_but_change_nothing(
    session_factory: sessionmaker[Session],
) -> None:
    two_products = MINIMAL + (
        "      - product: matrix\n"
        "        seats: 4\n"
        '        unit_price: "9.00"\n'
        "        anchor: 2026-01-01\n"
    )
    with session_factory.begin() as session:
        apply_config(session, parse_config(two_products), AT)
    before = dump(session_factory)
    with session_factory.begin() as session:
        report = apply_config(session, parse_config(MINIMAL.replace("seats: 10", "seats: 30")), AT)
    assert report.changes == (
        "acme: Axiom seats: 10 kept — seat changes go through /seats (the file says 30)",
        "acme: Matrix subscription kept (4 seats) — it is not in the file, but a subscription "
        "keeps its billing history",
    )
    assert not report.changed
    assert dump(session_factory) == before


def test_account_and_term_changes_are_reported_in_words(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory.begin() as session:
        apply_config(session, parse_config(MINIMAL), AT)
    changed = MINIMAL.replace(
        "    currency: USD\n", "    currency: USD\n    timezone: Asia/Tokyo\n"
    )
    changed = changed.replace("        anchor: 2026-01-01\n", "        anchor: 2026-01-05\n")
    with session_factory.begin() as session:
        report = apply_config(session, parse_config(changed), AT)
    assert report.changes == (
        "acme: time zone UTC → Asia/Tokyo",
        "acme: Axiom billing anchor 1 Jan 2026 → 5 Jan 2026",
        "acme: Axiom current period is now 5 Jan 2026 – 4 Feb 2026",
    )
    assert report.changed


def test_without_a_key_on_postgresql_the_load_is_refused_naming_the_line(
    session_factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SEATBOT_TOKEN_KEYS")
    text = MINIMAL + AXIOM_PLATFORM
    engine = session_factory.kw["bind"]
    if engine.dialect.name == "sqlite":
        # The embedded database makes its own key file instead.
        with session_factory.begin() as session:
            apply_config(session, parse_config(text), AT)
        assert Path(engine.url.database + ".key").is_file()
        return
    before = dump(session_factory)
    with pytest.raises(ConfigurationError) as caught, session_factory.begin() as session:
        apply_config(session, parse_config(text), AT)
    [problem] = caught.value.problems
    assert problem.line == 15  # "- product: axiom"
    assert "SEATBOT_TOKEN_KEYS is not set" in problem.message
    assert "seatbot tokens new-key" in problem.message
    assert dump(session_factory) == before


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda folder: folder / "missing.yml", "no such file"),
        (lambda folder: folder, "a folder, not a YAML file"),
        (
            lambda folder: (
                folder / "latin1.yml",
                (folder / "latin1.yml").write_bytes(b"\xe9t\xe9"),
            )[0],
            "not UTF-8 text (save it as UTF-8)",
        ),
    ],
)
def test_a_file_that_cannot_be_read_is_said_in_words(tmp_path: Path, make: Any, words: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_file(make(tmp_path))
    assert str(caught.value.problems[0]) == words
    assert caught.value.message == words


def test_an_unreadable_file_says_permission_denied(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Tests may run as root, whom file modes do not stop; the error is what matters here.
    def refuse(self: Path, *args: Any, **kwargs: Any) -> str:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_text", refuse)
    with pytest.raises(ConfigurationError) as caught:
        load_file(tmp_path / "private.yml")
    assert caught.value.message == "permission denied"
