"""Parsing ``/seats``: examples for each form and properties over arbitrary text."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing.products import MAX_SEATS, Product, product_aliases
from billing.seats.rules import ChangeMode
from handlers.commands import (
    ChangeSeats,
    OpenModal,
    ShowHelp,
    ShowHistory,
    ShowStatus,
    Unrecognised,
    parse_seats_command,
    product_from_alias,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", OpenModal()),
        ("   ", OpenModal()),
        ("status", ShowStatus()),
        ("STATUS", ShowStatus()),
        ("history", ShowHistory()),
        ("help", ShowHelp()),
        ("add 3 axiom", ChangeSeats(ChangeMode.ADD, 3, Product.AXIOM)),
        ("remove 2 matrix", ChangeSeats(ChangeMode.REMOVE, 2, Product.MATRIX)),
        ("set 10 contact-center", ChangeSeats(ChangeMode.SET, 10, Product.CONTACT_CENTER)),
        ("set 0 cc", ChangeSeats(ChangeMode.SET, 0, Product.CONTACT_CENTER)),
        ("add 1 Contact   Center", ChangeSeats(ChangeMode.ADD, 1, Product.CONTACT_CENTER)),
        ("status account acme", ShowStatus("acme")),
        # One word after status/history/help can only be the account's name (issue 19, item 10).
        ("status initech", ShowStatus("initech")),
        ("history Initech", ShowHistory("Initech")),
        ("account acme add 3 axiom", ChangeSeats(ChangeMode.ADD, 3, Product.AXIOM, "acme")),
        ("add 3 axiom account Acme-EU", ChangeSeats(ChangeMode.ADD, 3, Product.AXIOM, "Acme-EU")),
        ("account acme", OpenModal("acme")),
    ],
)
def test_valid_forms(text: str, expected: object) -> None:
    assert parse_seats_command(text) == expected


@pytest.mark.parametrize(
    ("text", "suggestion"),
    [
        ("ad 3 axiom", "/seats add 3 axiom"),
        ("add 3 axium", "/seats add 3 axiom"),
        ("add three axiom", "/seats add 1 axiom"),
        ("add -3 axiom", "/seats add 3 axiom"),
        ("remvoe 2 matirx", "/seats remove 2 matrix"),
        ("delete 2 cc", "/seats remove 2 contact-center"),
        ("add 3", "/seats add 3 axiom"),
        ("add 3 contact centr", "/seats add 3 contact-center"),
        ("stauts", "/seats status"),
        ("histroy", "/seats history"),
        ("status please now", "/seats status"),
        ("pizza", "/seats help"),
        ("add 3 axiom account", "/seats add 3 axiom"),
    ],
)
def test_garbled_text_suggests_the_closest_command(text: str, suggestion: str) -> None:
    parsed = parse_seats_command(text)
    assert isinstance(parsed, Unrecognised)
    assert parsed.suggestion == suggestion
    assert parsed.problem


def test_every_alias_names_a_product() -> None:
    assert {product_from_alias(alias) for alias in product_aliases()} == set(Product)
    assert product_from_alias("  AXIOM ") is Product.AXIOM
    assert product_from_alias("axioms") is None


changes = st.builds(
    ChangeSeats,
    st.sampled_from(ChangeMode),
    st.integers(min_value=1, max_value=MAX_SEATS),
    st.sampled_from(Product),
)


@given(changes)
def test_canonical_text_parses_back(command: ChangeSeats) -> None:
    assert command.as_text.startswith("/seats ")
    assert parse_seats_command(command.as_text.removeprefix("/seats ")) == command


@given(
    st.sampled_from(ChangeMode),
    st.integers(min_value=1, max_value=MAX_SEATS),
    st.sampled_from(product_aliases()),
    st.lists(st.sampled_from([" ", "  ", "\t"]), min_size=3, max_size=3),
    st.booleans(),
)
def test_spacing_and_case_do_not_matter(
    mode: ChangeMode, count: int, alias: str, gaps: list[str], upper: bool
) -> None:
    text = f"{gaps[0]}{mode.value}{gaps[1]}{count}{gaps[2]}{alias}"
    parsed = parse_seats_command(text.upper() if upper else text)
    assert parsed == ChangeSeats(mode, count, product_from_alias(alias) or Product.AXIOM)


@given(st.text(max_size=80))
def test_any_text_parses_and_every_suggestion_is_valid(text: str) -> None:
    parsed = parse_seats_command(text)
    if isinstance(parsed, Unrecognised):
        suggested = parse_seats_command(parsed.suggestion.removeprefix("/seats "))
        assert not isinstance(suggested, Unrecognised | OpenModal)


def test_long_text_is_answered_without_being_analysed(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the suggester looked at a huge command")

    monkeypatch.setattr("handlers.commands.difflib.get_close_matches", refuse)
    monkeypatch.setattr("handlers.commands.difflib.SequenceMatcher", refuse)
    parsed = parse_seats_command("ad " + "x" * 300_000)
    assert isinstance(parsed, Unrecognised)
    assert parsed.suggestion == "/seats help"
    assert len(parsed.text) <= 40


def test_the_suggester_compares_a_bounded_number_of_words() -> None:
    parsed = parse_seats_command(" ".join(["axiomm"] * 40))
    assert isinstance(parsed, Unrecognised)
    assert len(parsed.problem) < 120


@pytest.mark.parametrize("digits", [7, 40, 4301])
def test_numbers_too_long_to_be_seats_are_never_converted(digits: int) -> None:
    parsed = parse_seats_command(f"add {'9' * digits} axiom")
    assert isinstance(parsed, Unrecognised)
    assert "10,000" in parsed.problem or "too long" in parsed.problem


@pytest.mark.parametrize("text", ["remove 0 matrix", "add 20000 axiom", "set 10001 cc"])
def test_counts_parse_and_billing_judges_them(text: str) -> None:
    # Whether a count may be requested is billing's rule (target_seats), not the parser's.
    assert isinstance(parse_seats_command(text), ChangeSeats)


def test_a_number_too_large_suggests_the_most_there_can_be() -> None:
    parsed = parse_seats_command("add 999999999 axiom")
    assert isinstance(parsed, Unrecognised)
    assert parsed.suggestion == f"/seats set {MAX_SEATS} axiom"


def test_a_negative_count_is_not_a_count() -> None:
    parsed = parse_seats_command("add -3 axiom")
    assert isinstance(parsed, Unrecognised)
    assert "use a positive number" in parsed.problem
