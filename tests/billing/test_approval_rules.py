"""What an approver's decision does to a pending request, as pure rules: too late past the
policy's deadline, nothing to change once its target is reached, otherwise it stands."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from billing.approvals.rules import (
    ApprovalPolicy,
    DecisionStep,
    Timeline,
    approve_step,
    deny_step,
    timeline,
)

SUBMITTED = datetime(2026, 1, 16, 9, tzinfo=UTC)
EIGHT_HOURS = timeline(ApprovalPolicy(expire_after=timedelta(hours=8)), SUBMITTED)
NO_EXPIRY = timeline(ApprovalPolicy(remind_after=timedelta(hours=1)), SUBMITTED)
JUST_BEFORE = SUBMITTED + timedelta(hours=8) - timedelta(microseconds=1)
AT_DEADLINE = SUBMITTED + timedelta(hours=8)


@pytest.mark.parametrize(
    ("line", "now", "expected"),
    [
        (EIGHT_HOURS, JUST_BEFORE, DecisionStep.DECIDE),
        (EIGHT_HOURS, AT_DEADLINE, DecisionStep.EXPIRE),  # as the scheduler: due at the instant
        (EIGHT_HOURS, AT_DEADLINE + timedelta(days=30), DecisionStep.EXPIRE),
        (NO_EXPIRY, AT_DEADLINE + timedelta(days=30), DecisionStep.DECIDE),
        (None, AT_DEADLINE + timedelta(days=30), DecisionStep.DECIDE),  # no policy any more
    ],
)
def test_a_decision_after_the_deadline_comes_too_late(
    line: Timeline | None, now: datetime, expected: DecisionStep
) -> None:
    assert deny_step(line, now) is expected
    assert approve_step(line, now, new_seats=12, seats_now=10) is expected


@pytest.mark.parametrize(
    ("new_seats", "seats_now", "expected"),
    [
        (12, 12, DecisionStep.NOTHING_TO_CHANGE),  # the same increase, confirmed twice
        (8, 8, DecisionStep.NOTHING_TO_CHANGE),
        (12, 11, DecisionStep.DECIDE),  # another change moved the seats: re-priced, shown
        (12, 14, DecisionStep.DECIDE),
        (8, 10, DecisionStep.DECIDE),
    ],
)
def test_an_approval_whose_target_is_reached_has_nothing_to_change(
    new_seats: int, seats_now: int, expected: DecisionStep
) -> None:
    step = approve_step(EIGHT_HOURS, JUST_BEFORE, new_seats=new_seats, seats_now=seats_now)
    assert step is expected
    # Past the deadline the request expired, whatever the seats are now.
    late = approve_step(EIGHT_HOURS, AT_DEADLINE, new_seats=new_seats, seats_now=seats_now)
    assert late is DecisionStep.EXPIRE
