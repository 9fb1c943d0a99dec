"""The scheduled work's one mapping of the error tree: what a failed run records (an expected
error's own words, anything else an internal error with a reference), the same for a posted
report and an approval step."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from billing.approvals.reminders import JOB_NAMES, ApprovalReminders
from billing.approvals.rules import DueStep
from billing.approvals.schedule import DueItem
from billing.errors import Failure
from billing.jobs.rules import JobStatus, PostOutcome
from billing.jobs.service import failure_reason
from billing.jobs.store import JobClaims

JAN_16 = datetime(2026, 1, 16, 9, tzinfo=UTC)


def test_an_expected_error_is_recorded_in_its_own_words() -> None:
    assert failure_reason(Failure("the database at db.example could not be reached")) == (
        "the database at db.example could not be reached"
    )


def test_anything_else_is_recorded_as_an_internal_error_with_a_reference() -> None:
    reason = failure_reason(RuntimeError("xoxb-secret-token in a library's message"))
    assert reason.startswith("internal error (reference ")
    assert reason.endswith("); see the log")
    assert "xoxb" not in reason


class FailingApprovals:
    """Approvals whose reminder step raises ``error``."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def reminder(self, request_id: int) -> Any:
        raise self.error


def run_reminder(session_factory: sessionmaker[Session], error: Exception) -> PostOutcome:
    claims = JobClaims(session_factory)
    reminders = ApprovalReminders(FailingApprovals(error), claims, lambda: JAN_16)  # type: ignore[arg-type]
    steps = reminders.run(DueItem(7, DueStep.REMIND, JAN_16), JAN_16)
    with pytest.raises(StopIteration) as ended:
        next(steps)
    outcome = ended.value.value
    assert isinstance(outcome, PostOutcome)
    run = claims.find(JOB_NAMES[DueStep.REMIND], "7")
    assert run is not None
    assert run.status is JobStatus.FAILED
    assert run.detail["error"] in outcome.detail
    return outcome


def test_an_approval_step_records_an_expected_error_in_its_words(
    session_factory: sessionmaker[Session],
) -> None:
    outcome = run_reminder(session_factory, Failure("Slack did not answer"))
    assert outcome.detail == (
        "approval.remind of request 7 failed (Slack did not answer); it will be retried"
    )


def test_an_approval_step_records_only_a_reference_for_anything_else(
    session_factory: sessionmaker[Session],
) -> None:
    error = RuntimeError("a bug in a view")
    outcome = run_reminder(session_factory, error)
    assert "internal error (reference " in outcome.detail
    assert "a bug in a view" not in outcome.detail
    assert outcome.cause is error  # for the log
