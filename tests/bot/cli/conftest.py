"""The ``seatbot`` CLI run in this process, for tests that only check what it prints and its
exit status (a process of its own is for what only a process shows: the environment as the
operator's shell hands it over, a server, the start-up's imports)."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Mapping

import pytest

from bot.cli import run

#: ``run_seatbot(args, env)`` → the finished run (``returncode``, ``stdout``, ``stderr``).
RunSeatbot = Callable[[list[str], Mapping[str, str | None]], subprocess.CompletedProcess[str]]


@pytest.fixture
def run_seatbot(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> RunSeatbot:
    """The CLI's entry point (:func:`bot.cli.run`, what the ``seatbot`` script calls) with
    ``env`` over the environment (``None`` removes a variable), its output captured."""

    def run_cli(args: list[str], env: Mapping[str, str | None]) -> subprocess.CompletedProcess[str]:
        for key, value in env.items():
            if value is None:
                monkeypatch.delenv(key, raising=False)
            else:
                monkeypatch.setenv(key, value)
        capsys.readouterr()
        status = run(args)
        out, err = capsys.readouterr()
        return subprocess.CompletedProcess(args, status, out, err)

    return run_cli
