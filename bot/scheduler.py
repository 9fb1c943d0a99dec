"""The scheduler inside ``seatbot serve``: APScheduler 3's ``AsyncIOScheduler`` on the app's
event loop, started and stopped with the ASGI app's lifespan.

General infrastructure: each kind of job has one registration function (``add_*_job``) that
adds an interval job calling an async ``tick``. APScheduler 3 keeps jobs in process memory, so
every replica fires every job; a tick must claim each unit of work in the database before doing
it (:mod:`billing.job_claims`), which is what makes it happen once. Ticks of one job never
overlap in a process (``max_instances=1``; a tick still running when the next is due skips it),
and a tick that raises is logged and the next one runs as usual.

    scheduler = ReportScheduler()
    add_digest_job(scheduler, jobs.tick, every_s=60)
    await scheduler.start()   # in the lifespan's startup
    ...
    await scheduler.stop()    # in its shutdown
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

logger = logging.getLogger(__name__)

#: The job id of the digest tick (one per process).
DIGEST_JOB_ID = "digests"

Tick = Callable[[], Awaitable[Any]]


class ReportScheduler:
    """One ``AsyncIOScheduler`` and the jobs registered on it before :meth:`start`."""

    def __init__(self) -> None:
        self._jobs: list[tuple[str, Tick, float]] = []
        self._scheduler: AsyncIOScheduler | None = None

    def add(self, job_id: str, tick: Tick, every_s: float) -> None:
        """Run ``tick`` every ``every_s`` seconds, the first time as soon as it starts."""
        if every_s <= 0:
            raise ValueError("a job's interval must be positive")
        self._jobs.append((job_id, tick, every_s))

    @property
    def running(self) -> bool:
        return self._scheduler is not None and self._scheduler.running

    async def start(self) -> None:
        """Start the scheduler on the running event loop."""
        if self._scheduler is not None:
            return
        # APScheduler logs every run at INFO; its warnings and errors still show.
        logging.getLogger("apscheduler").setLevel(logging.WARNING)
        scheduler = AsyncIOScheduler(timezone=UTC)
        for job_id, tick, every_s in self._jobs:
            scheduler.add_job(
                _logged(job_id, tick),
                IntervalTrigger(seconds=every_s, timezone=UTC),
                id=job_id,
                name=job_id,
                max_instances=1,
                coalesce=True,
                misfire_grace_time=None,
                next_run_time=datetime.now(UTC),
            )
        scheduler.start()
        self._scheduler = scheduler
        logger.info("Scheduler started (%s)", ", ".join(j for j, _, _ in self._jobs) or "no jobs")

    async def stop(self) -> None:
        """Stop firing jobs (a tick in progress is not awaited; its claim shows it running)."""
        if self._scheduler is not None and self._scheduler.running:
            self._scheduler.shutdown(wait=False)
        self._scheduler = None


def _logged(job_id: str, tick: Tick) -> Callable[[], Awaitable[None]]:
    async def run() -> None:
        try:
            await tick()
        except Exception as error:  # the next tick runs as usual
            logger.error("The scheduled job %s failed", job_id, exc_info=error)

    return run


def add_digest_job(scheduler: ReportScheduler, tick: Tick, *, every_s: float) -> None:
    """Look for due daily digests every ``every_s`` seconds (``ReportJobs.tick``)."""
    scheduler.add(DIGEST_JOB_ID, tick, every_s)
