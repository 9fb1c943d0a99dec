"""Claims on the many runs of a shared job at once (``seatbot reconcile --share``: a run per
account), so that claiming 10,000 accounts costs a statement per chunk, not two transactions per
account. The same rows and the same guarantees as :class:`billing.jobs.store.JobClaims`: a run
is won by one process only (the unique ``(job_name, run_key)``), and one that exists is claimed
again only when :func:`billing.jobs.rules.may_take_over` says so, by ``JobClaims.claim``'s
compare-and-set."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.dialects import postgresql, sqlite

from billing.jobs.rules import Claim, JobStatus, may_take_over
from billing.jobs.store import JobClaims, JobRun
from billing.periods import require_aware
from billing.storage import Storage, execute_update


class SharedClaims:
    """Claims of many runs of one job over ``claims``' database (see the module docstring)."""

    def __init__(self, claims: JobClaims) -> None:
        self._claims = claims
        self._storage = Storage(claims.sessions)

    def claim(
        self,
        job_name: str,
        keys: Mapping[str, int | None],
        *,
        scheduled_for: datetime,
        at: datetime,
    ) -> dict[str, Claim]:
        """Claim the runs ``keys`` names (run key → account id) that are free: those that do not
        exist yet in one ``INSERT … ON CONFLICT DO NOTHING``, then those that exist and may be
        taken over one by one. The claims won, by run key."""
        require_aware(scheduled_for)
        require_aware(at)
        late = at - scheduled_for > self._claims.late_after
        rows = [
            {"job_name": job_name, "run_key": key, "account_id": account_id,
             "scheduled_for": scheduled_for, "status": JobStatus.RUNNING.value, "attempts": 1,
             "late": late, "started_at": at, "renewed_at": at, "detail": "{}"}
            for key, account_id in keys.items()
        ]  # fmt: skip
        won: dict[str, Claim] = {}
        with self._storage.write() as session:
            dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
            inserted = session.execute(
                dialect.insert(JobRun)
                .values(rows)
                .on_conflict_do_nothing(index_elements=["job_name", "run_key"])
                .returning(JobRun.id, JobRun.run_key)
            )
            for run_id, key in inserted:
                won[key] = Claim(
                    run_id, job_name, key, keys[key], scheduled_for, 1, late, None, None, {}, None
                )
        taken = [key for key in keys if key not in won]
        for run in self._claims.find_many(job_name, taken).values():
            stale_after, max_attempts = self._claims.stale_after, self._claims.max_attempts
            if may_take_over(run, at, stale_after=stale_after, max_attempts=max_attempts):
                claim = self._claims.claim(
                    job_name,
                    run.run_key,
                    scheduled_for=scheduled_for,
                    at=at,
                    account_id=keys[run.run_key],
                )
                if claim is not None:
                    won[run.run_key] = claim
        return won

    def succeed(self, claims: Sequence[Claim], *, at: datetime) -> int:
        """Mark the runs of ``claims`` done, in a statement per attempt number, where the claim
        is still held (running, the same attempt); how many were."""
        require_aware(at)
        done = 0
        with self._storage.write() as session:
            for attempt in sorted({claim.attempt for claim in claims}):
                ids = [claim.id for claim in claims if claim.attempt == attempt]
                done += execute_update(
                    session,
                    update(JobRun)
                    .where(
                        JobRun.id.in_(ids),
                        JobRun.status == JobStatus.RUNNING.value,
                        JobRun.attempts == attempt,
                    )
                    .values(status=JobStatus.SUCCEEDED.value, finished_at=at),
                )
        return done
