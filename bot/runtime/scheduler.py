"""The scheduler inside ``seatbot serve``: APScheduler 3's ``AsyncIOScheduler`` on the app's
event loop, started and stopped with the ASGI app's lifespan.

General infrastructure: each kind of job has one registration function (``add_*_job``) that
adds an interval job calling an async ``tick``. APScheduler 3 keeps jobs in process memory, so
every replica fires every job; a tick must claim each unit of work in the database before doing
it (:mod:`billing.jobs.store`), which is what makes it happen once. Ticks of one job never
overlap in a process (``max_instances=1``; a tick still running when the next is due skips it),
and a tick that raises is logged and the next one runs as usual.

    scheduler = ReportScheduler()
    add_digest_job(scheduler, jobs.tick, every_s=60)
    await scheduler.start()   # in the lifespan's startup
    ...
    await scheduler.stop(deadline_s=20)    # in its shutdown: ticks in progress may finish

``on_lag(job_id, seconds)`` (when given) hears how late each tick started after it was due
(``seatbot_scheduler_job_lag_seconds``): a loop kept busy, or a tick still running when the
next one was due, shows there first.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from apscheduler.events import EVENT_JOB_SUBMITTED
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.exc import OperationalError

from handlers.request_ids import RequestScope, begin_request, end_request

logger = logging.getLogger(__name__)

#: The job id of the digest tick (one per process).
DIGEST_JOB_ID = "digests"

Tick = Callable[[], Awaitable[Any]]
LagObserver = Callable[[str, float], None]


class ReportScheduler:
    """One ``AsyncIOScheduler`` and the jobs registered on it before :meth:`start`."""

    def __init__(self, *, on_lag: LagObserver | None = None) -> None:
        self._jobs: list[tuple[str, Tick, float]] = []
        self._scheduler: AsyncIOScheduler | None = None
        self._on_lag = on_lag
        self._running_ticks: set[asyncio.Task[Any]] = set()

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
                _logged(job_id, tick, self._running_ticks),
                IntervalTrigger(seconds=every_s, timezone=UTC),
                id=job_id,
                name=job_id,
                max_instances=1,
                coalesce=True,
                misfire_grace_time=None,
                next_run_time=datetime.now(UTC),
            )
        if self._on_lag is not None:
            scheduler.add_listener(_lag_listener(self._on_lag), EVENT_JOB_SUBMITTED)
        scheduler.start()
        self._scheduler = scheduler
        logger.info("Scheduler started (%s)", ", ".join(j for j, _, _ in self._jobs) or "no jobs")

    async def stop(self, *, deadline_s: float = 0.0) -> None:
        """Stop firing jobs, then give the ticks in progress up to ``deadline_s`` seconds to
        finish (one still running then is left: its claim shows it running, and another
        process takes it over once it is stale)."""
        scheduler, self._scheduler = self._scheduler, None
        if scheduler is None or not scheduler.running:
            return
        scheduler.pause()  # no new ticks; shutdown() would cancel the running ones
        running = [task for task in self._running_ticks if not task.done()]
        if running and deadline_s > 0:
            _, pending = await asyncio.wait(running, timeout=deadline_s)
            if pending:
                logger.warning(
                    "%d scheduled job(s) still running after %.0f s; stopping them",
                    len(pending),
                    deadline_s,
                )
        scheduler.shutdown(wait=False)


def _logged(
    job_id: str, tick: Tick, running: set[asyncio.Task[Any]]
) -> Callable[[], Awaitable[None]]:
    async def run() -> None:
        task = asyncio.current_task()
        if task is not None:
            running.add(task)
        # Each tick is one unit of work for the logs: its id is on every line it causes.
        scope = begin_request(RequestScope(kind=f"job:{job_id}"))
        try:
            await tick()
        except OperationalError as error:  # the database went away: /readyz says so
            cause = str(getattr(error, "orig", None) or error).strip().splitlines()
            logger.warning(
                "The scheduled job %s could not use the database (%s); the next tick tries again",
                job_id,
                cause[0] if cause else type(error).__name__,
            )
        except Exception as error:  # the next tick runs as usual
            logger.error("The scheduled job %s failed", job_id, exc_info=error)
        finally:
            end_request(scope)
            if task is not None:
                running.discard(task)

    return run


def _lag_listener(on_lag: LagObserver) -> Callable[[Any], None]:
    def heard(event: Any) -> None:
        due = getattr(event, "scheduled_run_times", None) or []
        if due:
            on_lag(str(event.job_id), (datetime.now(UTC) - max(due)).total_seconds())

    return heard


def add_digest_job(scheduler: ReportScheduler, tick: Tick, *, every_s: float) -> None:
    """Look for due daily digests every ``every_s`` seconds (``ReportJobs.tick``)."""
    scheduler.add(DIGEST_JOB_ID, tick, every_s)
