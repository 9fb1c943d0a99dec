"""``seatbot demo`` plays its whole script against the real app and exits 0."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest
from rich.console import Console

from bot.demo import run_demo

pytestmark = pytest.mark.slow


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
    assert "already applied" in transcript
    assert "Did you mean /seats add 3 axiom?" in transcript
    assert "Ledger · Acme Telecom Ltd" in transcript
    assert "✓ every step did what it should" in transcript
    # 16 of 31 January days left: 25 seats × 30.00 × 16/31 = 387.10 credited.
    assert "-387.10 USD" in transcript
