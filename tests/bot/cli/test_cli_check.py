"""``seatbot check`` as a process: exit 0 when the data holds, 1 naming each violation."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


def seatbot(args: list[str], database: Path) -> subprocess.CompletedProcess[str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key.upper() not in {"DATABASE_URL", "SEATBOT_TOKEN_KEYS"}
    }
    env["DATABASE_URL"] = f"sqlite:///{database}"
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.slow
def test_check_is_clean_then_names_a_planted_violation(tmp_path: Path) -> None:
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
