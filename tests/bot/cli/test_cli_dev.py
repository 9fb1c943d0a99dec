"""``seatbot dev``: the real app, the sandbox platforms and a Slack stand-in, driven from stdin."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[3]


def _dev(tmp_path: Path, script: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith(("SLACK_", "PORT"))}
    env.update(PYTHONPATH=str(ROOT), COLUMNS="110")
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "dev", "--port", "0", *args],
        input=script,
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def _flowing(text: str) -> str:
    """The transcript with panel borders removed and the terminal's line wrapping undone."""
    return " ".join(text.replace("│", " ").split())


def _too_wide(transcript: str, width: int) -> list[str]:
    """The transcript's lines wider than ``width``, but for the curl recipe's (printed unwrapped,
    so that it can be pasted)."""
    head, _, rest = transcript.partition("To send a signed request yourself:")
    tail = rest.partition("Type `help` for the commands.")[2]
    return [line for line in (head + tail).splitlines() if len(line) > width]


def test_commands_from_stdin_get_rendered_replies_and_numbered_buttons(tmp_path: Path) -> None:
    script = "\n".join(
        [
            "/seats status",
            "/seats remove 5 cc",  # blocked: 23 users exist on Contact Center
            "2",  # [2] Cancel
            "/seats add 1 axiom",
            "1",  # [1] Confirm
            "as U0ACMEMGR",
            "/seats",  # the form, as the manager
            "9",  # no such button
            "/seats help",  # answered in the ack itself
            "help",
        ]
    )
    result = _dev(tmp_path, script + "\n", "--database", str(tmp_path / "dev.db"))
    out = _flowing(result.stdout)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in out + result.stderr
    assert _too_wide(result.stdout, 110) == []  # $COLUMNS: the boxes fit, piped or not
    assert "U0ACMEOWNER › /seats status" in out
    assert "Contact Center: 25 seats" in out
    assert "must be deleted on Contact Center" in out
    assert "[1] Check again [2] Cancel" in out
    assert "Cancelled: Contact Center stays at 25 seats" in out
    assert "Axiom for Acme Telecom Ltd: 12 → 13 seats" in out
    assert "Done. Axiom for Acme Telecom Ltd: 12 → 13 seats" in out
    assert "(now acting as U0ACMEMGR)" in out
    assert "U0ACMEMGR › /seats" in out
    assert "there is no [9] in the last reply" in out
    assert "U0ACMEMGR › /seats help" in out
    assert "Seatbot: change the paid seats of your Squaretalk products" in out
    assert "N VALUE type VALUE into input N" in out  # the help text
    # How to send a signed request by hand, with the app's real address.
    assert "openssl dgst -sha256 -hmac 'seatbot-dev-signing-secret'" in out
    assert "/slack/events -H" in out
    assert (tmp_path / "dev.db").is_file()


def test_the_form_can_be_filled_in_and_submitted(tmp_path: Path) -> None:
    script = "/seats\n2 14\n3 a bigger team\n4\n1\n"
    result = _dev(tmp_path, script, "--database", str(tmp_path / "dev.db"))
    out = _flowing(result.stdout)
    assert result.returncode == 0, result.stderr
    assert "▸ New number of seats: [14]" in out
    assert "charged now" in out
    assert "Please confirm: Axiom for Acme Telecom Ltd: 12 → 14 seats" in out
    assert "Reason: a bigger team" in out
    assert "Done. Axiom for Acme Telecom Ltd: 12 → 14 seats" in out


def test_end_of_input_right_away_exits_0(tmp_path: Path) -> None:
    result = _dev(tmp_path, "", "--database", str(tmp_path / "dev.db"))
    assert (result.returncode, result.stderr) == (0, "")
    assert "Seatbot dev · app http://127.0.0.1:" in result.stdout


def test_a_database_that_cannot_be_created_is_one_line(tmp_path: Path) -> None:
    result = _dev(tmp_path, "", "--database", "/nonexistent-seatbot-dir/dev.db")
    assert result.returncode == 1
    assert result.stderr == (
        "seatbot: cannot create the database file at /nonexistent-seatbot-dir/dev.db: "
        "the folder /nonexistent-seatbot-dir does not exist\n"
    )


async def test_the_curl_recipe_waits_for_the_reply(tmp_path: Path) -> None:
    from bot.offline.dev import curl_example, dev_servers

    async with dev_servers(tmp_path / "dev.db") as servers:
        recipe = curl_example(servers, "U0ACMEOWNER")
        result = await asyncio.to_thread(
            subprocess.run,
            ["bash", "-euc", recipe],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert result.returncode == 0, result.stderr
    calls = json.loads(result.stdout)["calls"]
    # The reply came after the ack; the recipe printed it, not an empty log.
    assert [call["method"] for call in calls] == ["response_url"]
    assert "Contact Center" in json.dumps(calls[0]["args"])
