"""Claiming scheduled work in the database, so that it is done once however many processes run.

APScheduler 3 keeps its jobs in each process's memory, so every ``seatbot serve`` replica fires
every job. The work itself is therefore claimed first: a row in ``job_runs``, unique on
``(job_name, run_key)``. Only the caller whose claim wins does the work; the others are told it
is taken (``None``). The run key names the unit of work (for a daily job: the account and its
local date), and ``scheduled_for`` is when it was due, so a late run is recognised
(``Claim.late``, recorded).

A claim is won when no row exists (inserted, ``running``, attempt 1) or when
:func:`billing.jobs.rules.may_take_over` says so (a failure retried, a holder that stopped
renewing its claim taken over, ``force``): every takeover is a compare-and-set on (status,
attempts, last renewal), so two processes never both win, and a claim renewed meanwhile is not
taken. What was done survives a takeover (``Claim.message_ts``/``detail``): each part a holder
posts is recorded with :meth:`JobClaims.record_posted` as soon as it exists, even when the claim
was taken over meanwhile, so whoever holds the run resumes after it instead of repeating it.
:meth:`JobClaims.skip` records a run that is too late to be worth doing, so it is logged once.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import fields
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from billing.access import Role
from billing.jobs.rules import (
    Claim,
    JobRunView,
    JobStatus,
    Posted,
    main_message,
    may_take_over,
    renew_every,
    with_posted,
)
from billing.models import Base, UTCDateTime, _in_check, json_object
from billing.periods import require_aware
from billing.storage import Storage, execute_update, members_with_role

#: A run still ``running`` after this long is taken to have crashed (its process died).
DEFAULT_STALE_AFTER = timedelta(minutes=15)
#: How many times a failing run is tried before it stays ``failed``.
DEFAULT_MAX_ATTEMPTS = 5
#: A run claimed more than this after it was due is marked late.
DEFAULT_LATE_AFTER = timedelta(minutes=30)
#: How often a write to a run is tried again when another process changed it meanwhile.
_WRITE_TRIES = 20
#: Run keys looked up per query (bounds the parameters of one ``IN`` clause).
_KEYS_PER_QUERY = 500


class JobRun(Base):
    """One claimed run of a scheduled job, unique on (job, run key): every replica may fire the
    job, only the one whose claim is inserted (or that takes over a failed or stale claim) does
    the work. ``scheduled_for`` is when it was due (lateness is measured from it); ``attempts``
    counts claims; ``channel_id``/``message_ts`` is what it posted, ``detail`` JSON without
    secrets (more message timestamps, the last error). See this module."""

    __tablename__ = "job_runs"
    __table_args__ = (
        UniqueConstraint("job_name", "run_key"),
        CheckConstraint(_in_check("status", JobStatus), name="status"),
        Index(None, "account_id", "job_name", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_name: Mapped[str] = mapped_column(String(64))
    run_key: Mapped[str] = mapped_column(String(200))
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    scheduled_for: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    late: Mapped[bool] = mapped_column(Boolean, default=False)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: When the holder last renewed its claim (a run not renewed for ``stale_after`` is taken
    #: over); ``None`` on runs stored before claims were renewed: ``started_at`` then.
    renewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    channel_id: Mapped[str | None] = mapped_column(String(32))
    message_ts: Mapped[str | None] = mapped_column(String(32))
    detail: Mapped[str] = mapped_column(Text, default="{}")


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
        self.sessions = session_factory  # also for :mod:`billing.jobs.shares`
        self.stale_after = stale_after
        self.max_attempts = max_attempts
        self.late_after = late_after

    def owners(self, account_id: int) -> list[tuple[str, str]]:
        """The account's owners, as ``(team_id, user_id)``: who is told when its reports cannot
        reach its channel."""
        with self._storage.read() as session:
            owners = members_with_role(session, account_id, Role.OWNER)
            return [(member.team_id, member.user_id) for member in owners]

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
        first = JobRun(status=JobStatus.RUNNING.value, attempts=1, late=late, renewed_at=at)
        if self._insert(first, job_name, run_key, account_id, scheduled_for, at, detail="{}"):
            return _claim(first, None)
        # The run exists: see whether it may be taken over.
        with self._storage.write() as session:
            found = _find(session, job_name, run_key)
            if found is None or not may_take_over(
                _view(found),
                at,
                stale_after=self.stale_after,
                max_attempts=self.max_attempts,
                force=force,
            ):
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
                    JobRun.renewed_at.is_not_distinct_from(row.renewed_at),
                )
                .values(
                    status=JobStatus.RUNNING.value,
                    attempts=row.attempts + 1,
                    started_at=at,
                    renewed_at=at,
                    finished_at=None,
                    # Redoing a finished run on purpose does not make it late.
                    late=row.late or (late and previous is not JobStatus.SUCCEEDED),
                ),
            )
            if won != 1:
                return None
            session.refresh(row)
            return _claim(row, previous)

    @property
    def renew_every(self) -> timedelta:
        """How often a holder renews its claim (:func:`billing.jobs.rules.renew_every`)."""
        return renew_every(self.stale_after)

    def renew(self, claim: Claim, *, at: datetime) -> JobRunView | None:
        """Renew ``claim`` (its holder is alive at ``at``, so it is not taken over for
        ``stale_after`` more) and return the run as stored now; ``None`` if the claim was lost:
        do nothing more for the run."""
        require_aware(at)
        with self._storage.write() as session:
            renewed = execute_update(
                session,
                update(JobRun)
                .where(
                    JobRun.id == claim.id,
                    JobRun.status == JobStatus.RUNNING.value,
                    JobRun.attempts == claim.attempt,
                )
                .values(renewed_at=at),
            )
            row = session.get(JobRun, claim.id, populate_existing=True)
            return None if renewed != 1 or row is None else _view(row)

    def record_posted(
        self,
        claim: Claim,
        key: str,
        posted: str,
        *,
        index: int | None = None,
        channel_id: str | None = None,
    ) -> Posted:
        """Record that ``posted`` (a message ``ts``, a file id) exists for ``key`` (as part
        ``index``, or the one value), whoever holds the run's claim now: a takeover resumes
        after it. The first record of a part wins (:func:`billing.jobs.rules.with_posted`);
        the first of the run's top-level parts is its ``message_ts`` too."""
        posted_now = Posted(posted, held=False)

        def values(row: JobRun) -> dict[str, Any]:
            nonlocal posted_now
            detail, recorded = with_posted(json_object(row.detail), key, posted, index)
            held = row.status == JobStatus.RUNNING.value and row.attempts == claim.attempt
            posted_now = Posted(recorded, held)
            changed: dict[str, Any] = {"detail": _dumps(detail)}
            if channel_id is not None:
                changed["channel_id"] = channel_id
            first = main_message(detail)
            if first is not None:
                changed["message_ts"] = first
            return changed

        self._write(claim, values, held_only=False)
        return posted_now

    def succeed(self, claim: Claim, *, at: datetime, **detail: Any) -> bool:
        """Mark the run done; ``False`` if another process took the claim over meanwhile."""
        require_aware(at)
        return self._finish(claim, JobStatus.SUCCEEDED, at, detail)

    def fail(self, claim: Claim, *, at: datetime, error: str, **detail: Any) -> bool:
        """Mark the run failed with ``error`` (words, no secrets): it is retried later, up to
        ``max_attempts``; ``False`` if the claim was lost."""
        require_aware(at)
        return self._finish(claim, JobStatus.FAILED, at, dict(detail, error=error))

    def _finish(
        self, claim: Claim, status: JobStatus, at: datetime, detail: dict[str, Any]
    ) -> bool:
        def values(row: JobRun) -> dict[str, Any]:
            merged = _dumps(dict(json_object(row.detail), **detail))
            return {"detail": merged, "status": status.value, "finished_at": at}

        return self._write(claim, values, held_only=True)

    def _write(
        self, claim: Claim, values: Callable[[JobRun], dict[str, Any]], *, held_only: bool
    ) -> bool:
        """Set ``values(row)`` on the claim's run, as a compare-and-set on its ``detail`` (and,
        ``held_only``, on the claim still being held): read again and retried when another
        process recorded something meanwhile, so nobody's record is lost. ``False`` when the
        run is gone, or ``held_only`` and the claim was lost."""
        for _ in range(_WRITE_TRIES):
            with self._storage.write() as session:
                row = session.get(JobRun, claim.id, populate_existing=True)
                if row is None:
                    return False
                where = [JobRun.id == claim.id, JobRun.detail == row.detail]
                if held_only:
                    if row.status != JobStatus.RUNNING.value or row.attempts != claim.attempt:
                        return False
                    where += [
                        JobRun.status == JobStatus.RUNNING.value,
                        JobRun.attempts == claim.attempt,
                    ]
                if execute_update(session, update(JobRun).where(*where).values(**values(row))):
                    return True
        raise RuntimeError(f"job run {claim.id} kept changing while it was written")

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
        row = JobRun(status=JobStatus.SKIPPED.value, attempts=0, late=True, finished_at=at)
        detail = json.dumps({"reason": reason})
        return self._insert(row, job_name, run_key, account_id, scheduled_for, at, detail=detail)

    def _insert(
        self,
        row: JobRun,
        job_name: str,
        run_key: str,
        account_id: int | None,
        scheduled_for: datetime,
        at: datetime,
        *,
        detail: str,
    ) -> bool:
        """Insert ``row`` as the run of ``job_name`` under ``run_key``, started ``at``;
        ``False`` when that run exists already."""
        require_aware(at)
        row.job_name, row.run_key, row.account_id = job_name, run_key, account_id
        row.scheduled_for, row.started_at, row.detail = scheduled_for, at, detail
        try:
            with self._storage.write() as session:
                session.add(row)
                session.flush()
                return True
        except IntegrityError:
            return False

    def find(self, job_name: str, run_key: str) -> JobRunView | None:
        """The run, as stored, or ``None``."""
        return self.find_many(job_name, [run_key]).get(run_key)

    def find_many(self, job_name: str, run_keys: Sequence[str]) -> dict[str, JobRunView]:
        """The runs of ``job_name`` stored under any of ``run_keys``, by run key."""
        found: dict[str, JobRunView] = {}
        with self._storage.read() as session:
            for start in range(0, len(run_keys), _KEYS_PER_QUERY):
                chunk = run_keys[start : start + _KEYS_PER_QUERY]
                query = select(JobRun).where(JobRun.job_name == job_name, JobRun.run_key.in_(chunk))
                found.update((row.run_key, _view(row)) for row in session.scalars(query))
        return found

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


def _dumps(detail: dict[str, Any]) -> str:
    return json.dumps(detail, sort_keys=True, default=str)


def _claim(row: JobRun, previous: JobStatus | None) -> Claim:
    run = _view(row)
    same = {f.name: getattr(run, f.name) for f in fields(Claim) if hasattr(run, f.name)}
    return Claim(**same, attempt=run.attempts, previous_status=previous)


def _view(row: JobRun) -> JobRunView:
    columns = {f.name: getattr(row, f.name) for f in fields(JobRunView)}
    return JobRunView(**dict(columns, status=JobStatus(row.status), detail=json_object(row.detail)))
