"""Billing's use cases as ``seatbot serve`` composes them: the same services, counted.

Each class adds one thing to the billing service it extends: after a step answers, the answer
is counted in :class:`bot.web.metrics.Metrics`. Nothing else changes: the arguments are
passed on as they came (the signature is billing's), the answers and exceptions are billing's,
so handlers and tests see billing's own contract.
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy.orm import Session, sessionmaker

from billing.approvals import Approvals
from billing.jobs import Claim, JobClaims
from billing.seats import ChangeEnded, ChangeOutcome, SeatChanges, UsersNeeded
from bot.web.metrics import Metrics

_Outcome = TypeVar("_Outcome")


def _counted(metrics: Metrics, step: str, outcome: _Outcome) -> _Outcome:
    """Count ``outcome`` as ``step``'s answer; a use case asking for a platform's users has not
    decided anything yet, and ``None`` is nothing done."""
    if outcome is not None and not isinstance(outcome, UsersNeeded):
        metrics.change_step(step, outcome)
    return outcome


class MeteredSeatChanges(SeatChanges):
    """:class:`SeatChanges` counting what each Confirm click answered."""

    def __init__(
        self, session_factory: sessionmaker[Session], *, metrics: Metrics, **options: Any
    ) -> None:
        super().__init__(session_factory, **options)
        self._metrics = metrics

    def confirm(self, *args: Any, **kwargs: Any) -> ChangeOutcome | UsersNeeded:
        """:meth:`SeatChanges.confirm`, counted as step ``confirm``."""
        return _counted(self._metrics, "confirm", super().confirm(*args, **kwargs))


class MeteredApprovals(Approvals):
    """:class:`Approvals` counting each decision: approve, deny, expire."""

    def __init__(
        self, session_factory: sessionmaker[Session], *, metrics: Metrics, **options: Any
    ) -> None:
        super().__init__(session_factory, **options)
        self._metrics = metrics

    def approve(self, *args: Any, **kwargs: Any) -> ChangeOutcome | UsersNeeded:
        """:meth:`Approvals.approve`, counted as step ``approve``."""
        return _counted(self._metrics, "approve", super().approve(*args, **kwargs))

    def deny(self, *args: Any, **kwargs: Any) -> ChangeOutcome:
        """:meth:`Approvals.deny`, counted as step ``deny``."""
        return _counted(self._metrics, "deny", super().deny(*args, **kwargs))

    def expire(self, *args: Any, **kwargs: Any) -> ChangeEnded | None:
        """:meth:`Approvals.expire`, counted as step ``expire`` when it expired something."""
        return _counted(self._metrics, "expire", super().expire(*args, **kwargs))


class MeteredJobClaims(JobClaims):
    """:class:`JobClaims` counting how each claimed run ended (digests, reconciliations,
    approval reminders…), by job name."""

    def __init__(
        self, session_factory: sessionmaker[Session], *, metrics: Metrics, **options: Any
    ) -> None:
        super().__init__(session_factory, **options)
        self._metrics = metrics

    def succeed(self, claim: Claim, **kwargs: Any) -> bool:
        """:meth:`JobClaims.succeed`, counted when this process still held the claim."""
        return self._ran(claim.job_name, "succeeded", super().succeed(claim, **kwargs))

    def fail(self, claim: Claim, **kwargs: Any) -> bool:
        """:meth:`JobClaims.fail`, counted when this process still held the claim."""
        return self._ran(claim.job_name, "failed", super().fail(claim, **kwargs))

    def skip(self, job_name: str, *args: Any, **kwargs: Any) -> bool:
        """:meth:`JobClaims.skip`, counted for the process that recorded the skip."""
        return self._ran(job_name, "skipped", super().skip(job_name, *args, **kwargs))

    def _ran(self, job_name: str, outcome: str, counts: bool) -> bool:
        if counts:
            self._metrics.job_run(job_name, outcome)
        return counts
