"""Claiming scheduled work in the database, so that it is done once however many processes run.

APScheduler 3 keeps its jobs in each process's memory, so every ``seatbot serve`` replica fires
every job. The work itself is therefore claimed first: a row in ``job_runs``, unique on
``(job_name, run_key)``. Only the caller whose claim wins does the work; the others are told
it is taken (``None``). Reuse it for any job (digests, reports, approval reminders…)::

    claims = JobClaims(session_factory)
    claim = claims.claim("digest", "acme/2026-11-29", scheduled_for=due, at=now,
                         account_id=account.id)
    if claim is None:
        return  # another process has it, or it is done
    try:
        ... do the work; claims.progress(claim, channel_id=..., message_ts=...) once posted
    except Exception as error:
        claims.fail(claim, at=clock(), error="what went wrong, in words")
        raise
    claims.succeed(claim, at=clock())

The run key names the unit of work (for a daily job: the account and its local date), and
``scheduled_for`` is when it was due, so a late run is recognised (``Claim.late``, recorded).

A claim is won when:

- no row exists (the row is inserted, ``running``, attempt 1);
- the row ``failed`` and fewer than ``max_attempts`` attempts were made (retried, attempt n+1);
- the row is still ``running`` but started more than ``stale_after`` ago: the process that
  held it crashed mid-run, which the row shows until then (taken over, attempt n+1);
- ``force=True`` and the row ``succeeded`` (to redo it, e.g. update a posted message).

Every takeover is a compare-and-set on (status, attempts), so two processes never both win.
What was already done survives a takeover (``Claim.channel_id``/``message_ts``/``detail``), so
a retry can update a message that was posted before a crash rather than post it again.
:meth:`skip` records a run that is too late to be worth doing, so it is logged once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from billing.models import JobRun
from billing.models import JobStatus as JobStatus  # re-exported for the job bodies
from billing.periods import require_aware
from billing.repository import Storage, execute_update

#: A run still ``running`` after this long is taken to have crashed (its process died).
DEFAULT_STALE_AFTER = timedelta(minutes=15)
#: How many times a failing run is tried before it stays ``failed``.
DEFAULT_MAX_ATTEMPTS = 5
#: A run claimed more than this after it was due is marked late.
DEFAULT_LATE_AFTER = timedelta(minutes=30)


@dataclass(frozen=True)
class Claim:
    """The right to do one run now. ``attempt`` is 1 for the first claim; ``late`` whether it
    started more than the grace after ``scheduled_for``; the rest is what earlier attempts
    recorded (``None``/empty on a first attempt)."""

    id: int
    job_name: str
    run_key: str
    account_id: int | None
    scheduled_for: datetime
    attempt: int
    late: bool
    channel_id: str | None
    message_ts: str | None
    detail: dict[str, Any]
    previous_status: JobStatus | None


@dataclass(frozen=True)
class JobRunView:
    """A claimed (or finished) run as stored."""

    id: int
    job_name: str
    run_key: str
    account_id: int | None
    scheduled_for: datetime
    status: JobStatus
    attempts: int
    late: bool
    started_at: datetime
    finished_at: datetime | None
    channel_id: str | None
    message_ts: str | None
    detail: dict[str, Any]


class JobClaims:
    """Claims on ``job_runs`` (see the module docstring). Times are aware UTC, passed in."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        *,
        stale_after: timedelta = DEFAULT_STALE_AFTER,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        late_after: timedelta = DEFAULT_LATE_AFTER,
    ) -> None:
        self._storage = Storage(session_factory)
        self.stale_after = stale_after
        self.max_attempts = max_attempts
        self.late_after = late_after

    def claim(
        self,
        job_name: str,
        run_key: str,
        *,
        scheduled_for: datetime,
        at: datetime,
        account_id: int | None = None,
        force: bool = False,
    ) -> Claim | None:
        """Claim the run, or ``None`` when another process holds it or it is done (or failed
        ``max_attempts`` times). ``force`` also reclaims a run that succeeded."""
        require_aware(scheduled_for)
        require_aware(at)
        late = at - scheduled_for > self.late_after
        try:
            with self._storage.write() as session:
                row = JobRun(
                    job_name=job_name,
                    run_key=run_key,
                    account_id=account_id,
                    scheduled_for=scheduled_for,
                    status=JobStatus.RUNNING.value,
                    attempts=1,
                    late=late,
                    started_at=at,
                    detail="{}",
                )
                session.add(row)
                session.flush()
                return _claim(row, None)
        except IntegrityError:
            pass  # the run exists: see whether it may be taken over
        with self._storage.write() as session:
            found = _find(session, job_name, run_key)
            if found is None or not self._may_take_over(found, at, force=force):
                return None
            row = found
            previous = JobStatus(row.status)
            won = execute_update(
                session,
                update(JobRun)
                .where(
                    JobRun.id == row.id,
                    JobRun.status == row.status,
                    JobRun.attempts == row.attempts,
                )
                .values(
                    status=JobStatus.RUNNING.value,
                    attempts=row.attempts + 1,
                    started_at=at,
                    finished_at=None,
                    # Redoing a finished run on purpose does not make it late.
                    late=row.late or (late and previous is not JobStatus.SUCCEEDED),
                ),
            )
            if won != 1:
                return None
            session.refresh(row)
            return _claim(row, previous)

    def _may_take_over(self, row: JobRun, at: datetime, *, force: bool) -> bool:
        status = JobStatus(row.status)
        if status is JobStatus.FAILED:
            return force or row.attempts < self.max_attempts
        if status is JobStatus.RUNNING:
            return at - row.started_at > self.stale_after
        return force and status is JobStatus.SUCCEEDED

    def progress(
        self,
        claim: Claim,
        *,
        channel_id: str | None = None,
        message_ts: str | None = None,
        **detail: Any,
    ) -> bool:
        """Record what the run has done so far (a posted message, more ``detail``), so that a
        retry after a crash updates rather than repeats it. ``False`` if the claim was lost."""
        return self._finish(claim, None, None, channel_id, message_ts, detail)

    def succeed(self, claim: Claim, *, at: datetime, **detail: Any) -> bool:
        """Mark the run done; ``False`` if another process took the claim over meanwhile."""
        require_aware(at)
        return self._finish(claim, JobStatus.SUCCEEDED, at, None, None, detail)

    def fail(self, claim: Claim, *, at: datetime, error: str, **detail: Any) -> bool:
        """Mark the run failed with ``error`` (words, no secrets): it is retried later, up to
        ``max_attempts``; ``False`` if the claim was lost."""
        require_aware(at)
        return self._finish(claim, JobStatus.FAILED, at, None, None, dict(detail, error=error))

    def _finish(
        self,
        claim: Claim,
        status: JobStatus | None,
        at: datetime | None,
        channel_id: str | None,
        message_ts: str | None,
        detail: dict[str, Any],
    ) -> bool:
        with self._storage.write() as session:
            row = session.get(JobRun, claim.id, populate_existing=True)
            if row is None or row.status != JobStatus.RUNNING.value:
                return False
            if row.attempts != claim.attempt:
                return False
            merged = dict(_loads(row.detail), **detail)
            values: dict[str, Any] = {"detail": json.dumps(merged, sort_keys=True, default=str)}
            if status is not None:
                values.update(status=status.value, finished_at=at)
            if channel_id is not None:
                values["channel_id"] = channel_id
            if message_ts is not None:
                values["message_ts"] = message_ts
            return (
                execute_update(
                    session,
                    update(JobRun)
                    .where(
                        JobRun.id == claim.id,
                        JobRun.status == JobStatus.RUNNING.value,
                        JobRun.attempts == claim.attempt,
                    )
                    .values(**values),
                )
                == 1
            )

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
        """Record that a run nobody did is skipped (too late); ``True`` only for the caller that
        recorded it (log it then), ``False`` when the run already exists in any state."""
        require_aware(at)
        try:
            with self._storage.write() as session:
                session.add(
                    JobRun(
                        job_name=job_name,
                        run_key=run_key,
                        account_id=account_id,
                        scheduled_for=scheduled_for,
                        status=JobStatus.SKIPPED.value,
                        attempts=0,
                        late=True,
                        started_at=at,
                        finished_at=at,
                        detail=json.dumps({"reason": reason}),
                    )
                )
                session.flush()
                return True
        except IntegrityError:
            return False

    def find(self, job_name: str, run_key: str) -> JobRunView | None:
        """The run, as stored, or ``None``."""
        with self._storage.read() as session:
            row = _find(session, job_name, run_key)
            return None if row is None else _view(row)

    def last_succeeded(
        self, job_name: str, account_id: int, *, before: datetime
    ) -> JobRunView | None:
        """The account's latest run of ``job_name`` that succeeded before ``before``."""
        with self._storage.read() as session:
            row = session.scalars(
                select(JobRun)
                .where(
                    JobRun.job_name == job_name,
                    JobRun.account_id == account_id,
                    JobRun.status == JobStatus.SUCCEEDED.value,
                    JobRun.finished_at < before,
                )
                .order_by(JobRun.finished_at.desc(), JobRun.id.desc())
                .limit(1)
            ).first()
            return None if row is None else _view(row)

    def runs(self, job_name: str, *, account_id: int | None = None) -> list[JobRunView]:
        """Every run of ``job_name`` (of one account, when given), oldest first."""
        with self._storage.read() as session:
            query = select(JobRun).where(JobRun.job_name == job_name)
            if account_id is not None:
                query = query.where(JobRun.account_id == account_id)
            return [_view(row) for row in session.scalars(query.order_by(JobRun.id))]


def _find(session: Session, job_name: str, run_key: str) -> JobRun | None:
    return session.scalars(
        select(JobRun)
        .where(JobRun.job_name == job_name, JobRun.run_key == run_key)
        .execution_options(populate_existing=True)
    ).one_or_none()


def _loads(text: str | None) -> dict[str, Any]:
    try:
        value = json.loads(text or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _claim(row: JobRun, previous: JobStatus | None) -> Claim:
    return Claim(
        id=row.id,
        job_name=row.job_name,
        run_key=row.run_key,
        account_id=row.account_id,
        scheduled_for=row.scheduled_for,
        attempt=row.attempts,
        late=row.late,
        channel_id=row.channel_id,
        message_ts=row.message_ts,
        detail=_loads(row.detail),
        previous_status=previous,
    )


def _view(row: JobRun) -> JobRunView:
    return JobRunView(
        id=row.id,
        job_name=row.job_name,
        run_key=row.run_key,
        account_id=row.account_id,
        scheduled_for=row.scheduled_for,
        status=JobStatus(row.status),
        attempts=row.attempts,
        late=row.late,
        started_at=row.started_at,
        finished_at=row.finished_at,
        channel_id=row.channel_id,
        message_ts=row.message_ts,
        detail=_loads(row.detail),
    )
