"""``seatbot reconcile --share NAME`` refuses a name that cannot be a share's, before anything
is read (the sharing itself: tests/bot/runtime/test_shared_reconcile.py)."""

from __future__ import annotations

import pytest

from tests.bot.cli.conftest import RunSeatbot


@pytest.mark.parametrize("name", ["", "  ", "a/b", "x" * 101])
def test_a_share_name_that_cannot_be_one_is_refused(run_seatbot: RunSeatbot, name: str) -> None:
    done = run_seatbot(["reconcile", "--share", name], {"DATABASE_URL": "sqlite:///nowhere.db"})
    assert done.returncode == 2
    assert "--share: a share's name is 1 to 100 characters, without “/”" in done.stderr
    assert done.stdout == ""
