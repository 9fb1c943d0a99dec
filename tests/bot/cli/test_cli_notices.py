"""Operator notices (a key file made) are printed whole, not summed up with library warnings."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bot.cli import CliLogHandler, CliState, run, warnings_summary
from bot.runtime.logging_setup import OPERATOR_NOTICE

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def test_the_key_file_notice_is_printed_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("SEATBOT_TOKEN_KEYS", raising=False)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'seatbot.db'}")
    assert run(["db", "upgrade"]) == 0
    assert run(["load", str(EXAMPLES / "accounts.yml")]) == 0
    err = capsys.readouterr().err
    key_file = tmp_path / "seatbot.db.key"
    assert key_file.exists()
    notice = next(line for line in err.splitlines() if str(key_file) in line)
    assert notice.startswith(f"seatbot: Created {key_file}: ")
    assert notice.endswith(
        "Keep it and back it up with the database; losing it loses the stored credentials "
        "(set SEATBOT_TOKEN_KEYS to manage keys yourself)."
    )
    assert "while running" not in err


def test_a_notice_is_not_counted_among_the_warnings(capsys: pytest.CaptureFixture[str]) -> None:
    def notice_and_warning() -> None:
        logging.getLogger("bot.test").warning("x" * 150, extra=OPERATOR_NOTICE)
        logging.getLogger("some.library").warning("a library warning")

    state = CliState()
    handler = CliLogHandler(state)
    logging.getLogger().addHandler(handler)
    try:
        notice_and_warning()
    finally:
        logging.getLogger().removeHandler(handler)
    assert state.notices == ["x" * 150]
    assert state.warnings == ["a library warning"]
    assert capsys.readouterr().err == ""


def test_the_warnings_line_cuts_the_first_at_a_word() -> None:
    long = "digest not posted: Seatbot is not in channel C0ACMESEATS (channel_not_found): invite it"
    line = warnings_summary([long + " there with /invite @Seatbot", "another"])
    cut = f"{long} there with …"  # the first 100 characters, back to the last whole word
    assert line == f"2 warnings while running (first: {cut}); `seatbot --verbose …` shows them"
    assert warnings_summary(["short"]) == (
        "1 warning while running (first: short); `seatbot --verbose …` shows them"
    )
