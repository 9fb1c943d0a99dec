"""The one place scheduled work's outcomes are logged: a failure caused by an expected error is
one line in its words; anything else keeps its traceback."""

from __future__ import annotations

import logging

import pytest

from billing.errors import Failure
from billing.jobs.rules import PostOutcome
from bot.runtime.steps import log_outcome


def failed(cause: BaseException) -> PostOutcome:
    return PostOutcome("acme", "digest", "acme/2026-01-16", "failed", "why", cause=cause)


def test_an_expected_failure_is_one_line_without_a_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.DEBUG, logger="bot.runtime.steps"):
        log_outcome(failed(Failure("Slack refused chat.postMessage: not_in_channel")))
    [record] = caplog.records
    assert (record.levelno, record.exc_info) == (logging.ERROR, None)
    assert record.getMessage() == "digest acme/2026-01-16: why"


def test_an_unexpected_failure_keeps_its_traceback(caplog: pytest.LogCaptureFixture) -> None:
    bug = RuntimeError("a bug in a view")
    with caplog.at_level(logging.DEBUG, logger="bot.runtime.steps"):
        log_outcome(failed(bug))
    [record] = caplog.records
    assert record.exc_info is not None
    assert record.exc_info[1] is bug
