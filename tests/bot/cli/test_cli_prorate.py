import json

import pytest
from typer.testing import CliRunner

from bot.cli import build_cli

BASE = [
    "prorate", "--unit-price", "30.00", "--currency", "USD", "--period-start", "2026-01-01",
    "--period-end", "2026-02-01", "--at", "2026-01-16", "--from", "10", "--to", "12",
]  # fmt: skip


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(build_cli(), list(args))
    return result.exit_code, result.stdout, result.stderr


def test_json_document_matches_the_issue_example() -> None:
    code, out, _ = _run(*BASE, "--json")
    assert code == 0
    doc = json.loads(out)
    assert doc["amount"] == "30.97"
    assert doc["currency"] == "USD"
    assert doc["fraction"] == "16/31"
    assert doc["lines"] == [
        {"kind": "credit", "quantity": 10, "amount": "-154.84"},
        {"kind": "charge", "quantity": 12, "amount": "185.81"},
    ]


def test_seconds_rule_with_an_instant() -> None:
    args = [*BASE, "--rule", "seconds", "--json"]
    args[args.index("2026-01-16")] = "2026-01-16T12:00:00Z"
    code, out, _ = _run(*args)
    assert code == 0
    assert [line["amount"] for line in json.loads(out)["lines"]] == ["-150.00", "180.00"]


def test_readable_table() -> None:
    code, out, _ = _run(*BASE)
    assert code == 0
    assert "-$154.84" in out
    assert "$185.81" in out
    assert "$30.97" in out


@pytest.mark.parametrize(
    ("option", "value", "named"),
    [
        ("--unit-price", "30.001", "--unit-price"),
        ("--unit-price", "thirty", "--unit-price"),
        ("--currency", "XXQ", "--currency"),
        ("--at", "2026-03-01", "--at"),
        ("--at", "tomorrow", "--at"),
        ("--from", "-1", "--from"),
        ("--to", "x", "--to"),
        ("--rule", "weekly", "--rule"),
        ("--decrease-policy", "sometimes", "--decrease-policy"),
        ("--period-end", "2025-01-01", "--period-end"),
    ],
)
def test_bad_input_is_one_line_naming_the_option(option: str, value: str, named: str) -> None:
    args = list(BASE)
    if option in args:
        args[args.index(option) + 1] = value
    else:
        args += [option, value]
    code, out, err = _run(*args)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1
    assert named in err


def test_tz_option_counts_days_in_that_zone() -> None:
    code, out, _ = _run(*BASE, "--tz", "Pacific/Auckland", "--json")
    assert code == 0
    assert json.loads(out)["period_start"] == "2025-12-31T11:00:00Z"
