"""The CLI's output: a reader that leaves is no error, a write that fails is one line."""

from __future__ import annotations

import errno
import io
import sys

import pytest

from bot.cli import run
from bot.cli.output import TRANSCRIPT_WIDTH, UNCUT_WIDTH, output_console, transcript_console

PRORATE = [
    "prorate", "--unit-price", "30.00", "--currency", "USD", "--period-start", "2026-01-01",
    "--period-end", "2026-02-01", "--at", "2026-01-16", "--from", "25", "--to", "27",
]  # fmt: skip


class FailingStdout(io.StringIO):
    """A standard output whose every write (or flush) fails with ``error``."""

    def __init__(self, error: OSError) -> None:
        super().__init__()
        self.error = error

    def write(self, text: str) -> int:
        raise self.error

    def flush(self) -> None:
        raise self.error


@pytest.mark.parametrize("as_json", [False, True])
def test_a_closed_pipe_ends_the_command_quietly(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], as_json: bool
) -> None:
    monkeypatch.setattr(sys, "stdout", FailingStdout(BrokenPipeError(errno.EPIPE, "Broken pipe")))
    status = run([*PRORATE, *(["--json"] if as_json else [])])
    assert status == 0  # `seatbot audit | head -1`: the reader had what it wanted
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("as_json", [False, True])
def test_a_failed_write_is_one_line_and_exit_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], as_json: bool
) -> None:
    full = OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(sys, "stdout", FailingStdout(full))
    status = run([*PRORATE, *(["--json"] if as_json else [])])
    assert status == 1
    assert capsys.readouterr().err == "seatbot: cannot write the output: no space left on device\n"


def test_other_os_errors_are_not_taken_for_output_errors(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdout", FailingStdout(PermissionError(errno.EACCES, "denied")))
    assert run(PRORATE) == 1
    assert capsys.readouterr().err.startswith("seatbot: unexpected error (PermissionError)")


def test_tables_are_laid_out_whole_when_not_on_a_terminal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.setattr(sys, "stdout", io.StringIO())
    assert output_console().width == UNCUT_WIDTH


def test_transcripts_are_laid_out_at_columns_or_100_when_not_on_a_terminal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A box is as wide as its console: never UNCUT_WIDTH (`seatbot dev > file`, `seatbot demo`).
    monkeypatch.setattr(sys, "stdout", io.StringIO())
    monkeypatch.delenv("COLUMNS", raising=False)
    assert transcript_console().width == TRANSCRIPT_WIDTH == 100
    monkeypatch.setenv("COLUMNS", "72")
    assert transcript_console().width == 72


def test_the_demo_prints_its_transcript_at_the_transcript_width(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    widths: list[int] = []
    monkeypatch.setattr("bot.offline.demo.main", lambda console: widths.append(console.width))
    monkeypatch.setattr(sys, "stdout", io.StringIO())
    monkeypatch.delenv("COLUMNS", raising=False)
    assert run(["demo"]) == 0
    assert widths == [TRANSCRIPT_WIDTH]
