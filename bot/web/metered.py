"""Billing's use cases as ``seatbot serve`` composes them: the same services, counted.

Each class adds one thing to the billing service it extends: after a step answers, the answer
is counted in :class:`bot.web.metrics.Metrics`. Nothing else changes (same arguments, same
answers, same exceptions), so handlers and tests see billing's own contract.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from billing.access import Caller
from billing.approvals.service import Approvals
from billing.jobs.rules import Claim
from billing.jobs.store import JobClaims
from billing.seats.outcomes import ChangeEnded, ChangeOutcome, UsersNeeded
from billing.seats.service import SeatChanges
from billing.users import UserListing
from bot.web.metrics import Metrics


def _counted(metrics: Metrics, step: str, outcome: object) -> None:
    # A use case asking for a platform's users has not decided anything yet.
    if not isinstance(outcome, UsersNeeded):
        metrics.change_step(step, outcome)


class MeteredSeatChanges(SeatChanges):
    """:class:`SeatChanges` counting what each Confirm click answered."""

    def __init__(
        self, session_factory: sessionmaker[Session], *, metrics: Metrics, quote_ttl: timedelta
    ) -> None:
        super().__init__(session_factory, quote_ttl=quote_ttl)
        self._metrics = metrics

    def confirm(
        self,
        caller: Caller,
        *,
        request_id: int,
        revision: int,
        at: datetime,
        users: UserListing | None = None,
    ) -> ChangeOutcome | UsersNeeded:
        """:meth:`SeatChanges.confirm`, counted as step ``confirm``."""
        outcome = super().confirm(
            caller, request_id=request_id, revision=revision, at=at, users=users
        )
        _counted(self._metrics, "confirm", outcome)
        return outcome


class MeteredApprovals(Approvals):
    """:class:`Approvals` counting each decision: approve, deny, expire."""

    def __init__(
        self, session_factory: sessionmaker[Session], *, metrics: Metrics, quote_ttl: timedelta
    ) -> None:
        super().__init__(session_factory, quote_ttl=quote_ttl)
        self._metrics = metrics

    def approve(
        self,
        caller: Caller,
        *,
        request_id: int,
        revision: int,
        at: datetime,
        users: UserListing | None = None,
    ) -> ChangeOutcome | UsersNeeded:
        """:meth:`Approvals.approve`, counted as step ``approve``."""
        outcome = super().approve(
            caller, request_id=request_id, revision=revision, at=at, users=users
        )
        _counted(self._metrics, "approve", outcome)
        return outcome

    def deny(self, caller: Caller, *, request_id: int, reason: str, at: datetime) -> ChangeOutcome:
        """:meth:`Approvals.deny`, counted as step ``deny``."""
        outcome = super().deny(caller, request_id=request_id, reason=reason, at=at)
        _counted(self._metrics, "deny", outcome)
        return outcome

    def expire(self, request_id: int, at: datetime) -> ChangeEnded | None:
        """:meth:`Approvals.expire`, counted as step ``expire`` when it expired something."""
        outcome = super().expire(request_id, at)
        if outcome is not None:
            _counted(self._metrics, "expire", outcome)
        return outcome


class MeteredJobClaims(JobClaims):
    """:class:`JobClaims` counting how each claimed run ended (digests, reconciliations,
    approval reminders…), by job name."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        *,
        metrics: Metrics,
        stale_after: timedelta,
    ) -> None:
        super().__init__(session_factory, stale_after=stale_after)
        self._metrics = metrics

    def succeed(self, claim: Claim, *, at: datetime, **detail: Any) -> bool:
        """:meth:`JobClaims.succeed`, counted when this process still held the claim."""
        done = super().succeed(claim, at=at, **detail)
        if done:
            self._metrics.job_run(claim.job_name, "succeeded")
        return done

    def fail(self, claim: Claim, *, at: datetime, error: str, **detail: Any) -> bool:
        """:meth:`JobClaims.fail`, counted when this process still held the claim."""
        done = super().fail(claim, at=at, error=error, **detail)
        if done:
            self._metrics.job_run(claim.job_name, "failed")
        return done

    def skip(
        self,
        job_name: str,
        run_key: str,
        *,
        scheduled_for: datetime,
        at: datetime,
        reason: str,
        account_id: int | None = None,
    ) -> bool:
        """:meth:`JobClaims.skip`, counted for the process that recorded the skip."""
        recorded = super().skip(
            job_name,
            run_key,
            scheduled_for=scheduled_for,
            at=at,
            reason=reason,
            account_id=account_id,
        )
        if recorded:
            self._metrics.job_run(job_name, "skipped")
        return recorded
