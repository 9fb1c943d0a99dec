"""``seatbot demo`` plays its whole script against the real app and exits 0."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from rich.console import Console

from bot.cli import run
from bot.offline import demo_setup
from bot.offline.demo import run_demo
from bot.offline.demo_setup import DEMO_DATA_FILES, demo_data

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


@pytest.mark.slow
async def test_demo_plays_every_step_and_prints_the_ledger() -> None:
    buffer = io.StringIO()
    console = Console(file=buffer, width=100, force_terminal=False, color_system=None)
    status = await run_demo(console, now=datetime(2026, 1, 16, 12, 0, tzinfo=UTC))
    transcript = buffer.getvalue()
    assert status == 0, transcript
    assert "U0ACMEOWNER › /seats status" in transcript
    assert "must be deleted on Contact Center" in transcript
    assert "[Check again] [Cancel]" in transcript
    assert "Contact Center for Acme Telecom Ltd: 25 → 20 seats" in transcript
    assert "Waiting for approval by @U0ACMEMGR" in transcript
    assert "U0ACMEMGR › clicks [Approve]" in transcript
    assert "Approved by @U0ACMEMGR" in transcript  # the owner's DM
    assert "Already decided" in transcript  # a second click changes nothing
    assert "Did you mean /seats add 3 axiom?" in transcript
    assert "Ledger · Acme Telecom Ltd (times in Europe/London)" in transcript
    assert "✓ every step did what it should" in transcript
    # Right-sizing from the digest: its button, the preset form, Confirm, the saving.
    assert "U0ACMEOWNER › clicks [Remove 3 unused Axiom seats] on the digest" in transcript
    assert "New number of seats: [11]" in transcript
    # The form (a box in the reply) shows the credit. Axiom is billed per second; anchored on
    # 31 Jan, its period is 31 Dec 2025 00:00 – 31 Jan 2026 00:00 in London (31 days), and at
    # 12:00 on 16 Jan 14 days 12 h are left: 14 × $45.50 × 14.5/31 = $297.95 credited,
    # 11 × $45.50 × 14.5/31 = $234.10 charged, $63.85 back (3 × 45.50 × 14.5/31 = 63.847…).
    assert "│ │ $63.85 back as credit on your next invoice " in transcript
    working = "14 seats × $45.50 × 14 days 12 h of 31 days left = -$297.95"
    assert f"│ │   · Credit for unused time: {working}" in transcript
    assert "Axiom for Acme Telecom Ltd: 14 → 11 seats" in transcript
    assert "Saved $136.50 a month from 1 suggested removal this period." in transcript
    # The digest says money as an outcome, and leaves out what did not happen.
    assert re.search(r"Proration, in all: \$[\d,.]+ back as credit \(", transcript)
    assert "Requests waiting" not in transcript
    assert ": none" not in transcript
    # 16 of 31 January days left: 25 seats × 30.00 × 16/31 = 387.10 credited.
    assert "-$387.10" in transcript
    assert "1 Jan 2026 – 31 Jan 2026" in transcript  # the period's last day, in London
    # The billing system received the decrease's request, approval and application, and the
    # increase's application, as signed events, and verified them.
    assert transcript.count("Billing system · signature verified") == 4
    assert transcript.count("seat_change.requested · webhook-id msg_") == 1
    assert transcript.count("seat_change.approved · webhook-id msg_") == 1
    assert "acme · contact_center · 25 → 20 seats" in transcript
    assert "acme · axiom · 12 → 14 seats" in transcript
    assert transcript.count("seat_change.applied · webhook-id msg_") == 2


@pytest.mark.parametrize("name", DEMO_DATA_FILES)
def test_the_demo_data_is_the_documented_example(name: str) -> None:
    """The package ships a copy of examples/ for installed wheels; it must not drift."""
    shipped = (demo_data() / name).read_bytes()
    assert shipped == (EXAMPLES / name).read_bytes(), (
        f"bot/data/{name} differs from examples/{name}: copy examples/{name} over it"
    )


def test_the_demo_data_is_package_data() -> None:
    import tomllib

    pyproject = tomllib.loads((EXAMPLES.parent / "pyproject.toml").read_text(encoding="utf-8"))
    assert "data/*" in pyproject["tool"]["setuptools"]["package-data"]["bot"]


def test_a_failing_demo_says_why_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(demo_setup, "demo_data", lambda: tmp_path)  # a package without its data
    status = run(["demo"])
    out, err = capsys.readouterr()
    assert status == 1
    assert err == (
        "seatbot: the demo failed: the installed package lacks its demo file "
        "bot/data/accounts.yml\n"
    )
    assert "Traceback" not in out + err
