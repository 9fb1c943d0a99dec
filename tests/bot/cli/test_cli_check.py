"""``seatbot check`` through the CLI's entry point: exit 0 when the data holds, 1 naming each
violation."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.bot.cli.conftest import RunSeatbot

ROOT = Path(__file__).resolve().parents[3]

Seatbot = Callable[[list[str], Path], subprocess.CompletedProcess[str]]


@pytest.fixture
def seatbot(run_seatbot: RunSeatbot) -> Seatbot:
    def on(args: list[str], database: Path) -> subprocess.CompletedProcess[str]:
        env = {"DATABASE_URL": f"sqlite:///{database}", "SEATBOT_TOKEN_KEYS": None}
        return run_seatbot(args, env)

    return on


def test_check_is_clean_then_names_a_planted_violation(tmp_path: Path, seatbot: Seatbot) -> None:
    database = tmp_path / "seatbot.db"
    loaded = seatbot(["load", str(ROOT / "examples" / "accounts.yml")], database)
    assert loaded.returncode == 0, loaded.stderr
    clean = seatbot(["check"], database)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert clean.stdout.startswith("all invariants hold (5 subscription(s)")

    with sqlite3.connect(database) as connection:
        connection.execute(
            "UPDATE subscriptions SET seats = seats + 1 WHERE product = 'axiom' "
            "AND account_id = (SELECT id FROM accounts WHERE name = 'acme')"
        )
    broken = seatbot(["check"], database)
    assert broken.returncode == 1
    lines = broken.stdout.splitlines()
    assert any(line.startswith("seats: subscription ") and "(acme axiom)" in line for line in lines)
    assert "has 13 seats, but it started with 12" in broken.stdout
    assert lines[-1].startswith("1 violation(s)")
    assert broken.stderr == ""

    document = json.loads(seatbot(["check", "--json"], database).stdout)
    assert document["clean"] is False
    assert {v["rule"] for v in document["violations"]} == {"seats"}
