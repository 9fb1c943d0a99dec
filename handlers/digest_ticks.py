"""The scheduler's tick for daily digests: which are due, started once per process, without
waiting for them. One missed while nothing ran is posted late (marked so); one more than
:data:`SKIP_AFTER` late is skipped and logged; one that failed is tried again while it has
attempts left, and one whose poster died is taken over once its claim is stale.

The database claim (``job_runs``) is what makes each digest post once across processes; this
module only decides what to start. :class:`handlers.report_jobs.ReportJobs` owns one.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from billing.jobs.store import JobClaims
from billing.periods import local_date, zone
from billing.reports.facts import DIGEST_JOB, DigestSchedule
from billing.views import AccountView
from handlers.report_posting import PostOutcome

logger = logging.getLogger(__name__)

#: A digest due more than this long ago, never posted, is skipped (and logged) instead.
SKIP_AFTER = timedelta(days=1)
#: Digests built and posted at once by one tick (each one waits its turn per channel/workspace).
DIGESTS_AT_ONCE = 32

#: ``post_due(account, local day, due at)``: post that digest once, as scheduled for ``due at``.
PostDue = Callable[[AccountView, date, datetime], Awaitable[PostOutcome]]


@dataclass
class TickReport:
    """What one scheduler tick started (run keys), and the outcomes as they finish."""

    started: list[str] = field(default_factory=list)
    outcomes: list[PostOutcome] = field(default_factory=list)


class DigestTicks:
    """Starts the due digests (see the module docstring).

    ``schedule`` lists the accounts that want a digest; ``clock`` returns an aware UTC instant.
    """

    def __init__(
        self,
        *,
        schedule: Callable[[], list[DigestSchedule]],
        claims: JobClaims,
        clock: Callable[[], datetime],
        post_due: PostDue,
    ) -> None:
        self._schedule = schedule
        self._claims = claims
        self._clock = clock
        self._post_due = post_due
        self._in_flight: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._gate = asyncio.Semaphore(DIGESTS_AT_ONCE)

    async def tick(self) -> TickReport:
        """Start posting every digest that is due and not yet posted (see the module
        docstring); returns at once with what it started, so that a long post never delays the
        next tick (:meth:`drain` waits for them). Digests already in flight in this process
        are not started twice (the database claim is what guarantees it across processes)."""
        report = TickReport()
        now = self._clock()
        schedule = await asyncio.to_thread(self._schedule)
        for entry in schedule:
            tz = zone(entry.account.timezone)
            today = local_date(now, tz)
            for back in (2, 1, 0):
                day = today - timedelta(days=back)
                due_at = _due_instant(day, entry.digest_at, entry.account.timezone)
                key = f"{entry.account.name}/{day.isoformat()}"
                if due_at > now or key in self._in_flight:
                    continue
                self._in_flight.add(key)
                task = asyncio.create_task(self._one_due(entry.account, day, due_at, now, report))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
                task.add_done_callback(self._forget(key))
                report.started.append(key)
        return report

    def _forget(self, key: str) -> Callable[[asyncio.Task[None]], None]:
        def forget(_: asyncio.Task[None]) -> None:
            self._in_flight.discard(key)

        return forget

    async def drain(self) -> None:
        """Wait for every digest the ticks started."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _one_due(
        self, account: AccountView, day: date, due_at: datetime, now: datetime, report: TickReport
    ) -> None:
        async with self._gate:
            try:
                outcome = await self._due_digest(account, day, due_at, now)
            except Exception as error:  # logged; the claim (if any) shows it, retried later
                logger.error("The digest %s/%s failed", account.name, day, exc_info=error)
                return
        if outcome is not None:
            report.outcomes.append(outcome)

    async def _due_digest(
        self, account: AccountView, day: date, due_at: datetime, now: datetime
    ) -> PostOutcome | None:
        run_key = f"{account.name}/{day.isoformat()}"
        existing = await asyncio.to_thread(self._claims.find, DIGEST_JOB, run_key)
        if existing is not None and not self._claims.may_claim(existing, now):
            return None
        if existing is None and now - due_at > SKIP_AFTER:
            reason = f"due {due_at.isoformat()}, more than a day ago; Seatbot was not running then"
            recorded = await asyncio.to_thread(
                self._claims.skip,
                DIGEST_JOB,
                run_key,
                scheduled_for=due_at,
                at=now,
                reason=reason,
                account_id=account.id,
            )
            if not recorded:
                return None
            logger.warning("Skipped the digest %s: %s", run_key, reason)
            return PostOutcome(account.name, DIGEST_JOB, run_key, "skipped", reason, late=True)
        return await self._post_due(account, day, due_at)


def _due_instant(day: date, at: time, timezone: str) -> datetime:
    """When a digest at local ``at`` on ``day`` is due, as an aware UTC instant."""
    return datetime(
        day.year, day.month, day.day, at.hour, at.minute, tzinfo=zone(timezone)
    ).astimezone(UTC)
