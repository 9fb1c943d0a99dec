"""The bodies of the scheduled and command-line report jobs: reconcile, build, post, once.

:class:`ReportJobs` is what ``seatbot serve``'s scheduler and ``seatbot reconcile|digest``
call. It acts for the operator (nobody is authorised), and an account's digest and report go
only to that account's own ``channel_id``.

- :meth:`ReportJobs.reconcile` reads every product's users (fan-out bounded by ``concurrency``
  accounts at a time, and per platform host by the platform directory's ``HostLimits``),
  reduces each account's listings to its findings (counts and a bounded list) as soon as they
  are read, stores one run per account in batches, and hands each batch's findings on.
- :meth:`ReportJobs.post_digest` claims (``digest``, ``account/local date``) in the database
  *before* doing anything, then reconciles, builds the digest from the stored run, posts it
  (split into valid messages), lists every user holding a seat without using it in the
  thread, uploads the 30-day trend chart into the thread (from 7 days of runs), and marks the
  claim done. A second process, or a second run, finds the claim taken: "already posted".
  ``force`` updates the posted messages (``chat.update`` on the stored ``ts``) instead.
- :meth:`ReportJobs.tick` is the scheduler's job: every account's due digest, once; one missed
  while nothing ran is posted late (marked so); one more than a day late is skipped and logged.

While a digest or report is made and posted its claim is renewed, so only a process that died
(or lost the database) for ``stale_after`` is taken over; the process that takes over resumes
from what was recorded, part by part, and the one that lost the claim stops at its next step
("taken over by another process").

A post that fails (Slack refused it, kept answering 429, or was unreachable) marks the claim
failed with the reason; it is logged, returned to the caller, and tried again on a later tick
(up to :data:`billing.jobs.store.DEFAULT_MAX_ATTEMPTS` times), never dropped silently.

How a claimed report is posted is :mod:`handlers.report_posting`; which digests a tick starts,
:mod:`handlers.digest_ticks`.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable
from datetime import date, datetime

from billing.jobs.rules import JobStatus
from billing.jobs.store import Claim, JobClaims
from billing.periods import zone
from billing.products import Product
from billing.reports.facts import (
    DIGEST_JOB,
    RECONCILE_JOB,
    AccountFindings,
    AccountReconciliation,
    ReconcileTarget,
)
from billing.reports.service import Reports, account_findings
from billing.seats.outcomes import UsersNeeded
from billing.users import UserListing
from billing.views import AccountView
from handlers.digest_ticks import DigestTicks, TickReport
from handlers.facts import PlatformFacts
from handlers.report_posting import (
    ChartRenderer,
    ClaimedPoster,
    ClaimLost,
    PostOutcome,
    no_channel_reason,
    report_channel,
)
from handlers.slack_posting import SlackPoster, SlackPostFailed
from handlers.views.digest import details_messages, digest_messages, reconciliation_messages
from handlers.views.text import Locale

logger = logging.getLogger(__name__)

#: Accounts reconciled at once, and stored per database transaction.
DEFAULT_CONCURRENCY = 64
RECORD_BATCH = 100

#: ``on_batch(findings)``: called with each stored batch of runs (the caller keeps what it needs).
OnBatch = Callable[[list[AccountReconciliation]], None]


class ReportJobs:
    """Reconciliation runs, digests and reports (see the module docstring).

    ``clock`` returns an aware UTC instant; ``poster`` is ``None`` when Slack is not configured
    (then nothing can be posted and saying so is the outcome); ``chart`` renders the trend PNG;
    ``renew_s`` is how often a claim being worked on is renewed, in real seconds (see
    :class:`handlers.report_posting.ClaimedPoster`).
    """

    def __init__(
        self,
        *,
        reports: Reports,
        claims: JobClaims,
        facts: PlatformFacts,
        clock: Callable[[], datetime],
        poster: SlackPoster | None = None,
        chart: ChartRenderer | None = None,
        locale: str = "en_US",
        concurrency: int = DEFAULT_CONCURRENCY,
        source: str = "schedule",
        renew_s: float | None = None,
    ) -> None:
        self.reports = reports
        self.claims = claims
        self._facts = facts
        self._clock = clock
        self.poster = poster
        self._posting = ClaimedPoster(
            claims=claims, poster=poster, chart=chart, clock=clock, renew_s=renew_s
        )
        self._locale = locale
        self._concurrency = max(1, concurrency)
        self._source = source
        self._ticks = DigestTicks(
            schedule=reports.digest_schedule, claims=claims, clock=clock, post_due=self._post_due
        )

    def now(self) -> datetime:
        """The current instant on the jobs' clock (aware UTC)."""
        return self._clock()

    def where(self, account: AccountView) -> Locale:
        """How to show money and instants to ``account``."""
        return Locale(self._locale, zone(account.timezone))

    # -- reconciliation -------------------------------------------------------------------------

    async def read_listings(self, target: ReconcileTarget) -> dict[Product, UserListing]:
        """Every subscribed product's users for one account, read at once (never raises for a
        platform: an unreadable one is unknown with its reason)."""
        products = [s.product for s in target.subscriptions]
        listings = await self._facts.listings([UsersNeeded(target.account.id, p) for p in products])
        return dict(zip(products, listings, strict=True))

    async def reconcile(
        self,
        account_name: str | None,
        *,
        on_batch: OnBatch | None = None,
        on_progress: Callable[[int, int], None] | None = None,
    ) -> list[AccountReconciliation]:
        """Reconcile one account (or every one) now and store the runs.

        Returns the findings when ``on_batch`` is ``None``; with ``on_batch``, each stored batch
        goes there instead and nothing is kept (10,000 accounts stay small in memory).
        ``on_progress(done, total)`` follows the accounts read. Raises
        :class:`billing.errors.NotFound` for an unknown account name."""
        at = self._clock()
        targets = await asyncio.to_thread(self.reports.targets, account_name, at)
        kept: list[AccountReconciliation] = []
        pending: list[AccountFindings] = []
        done = 0
        gate = asyncio.Semaphore(self._concurrency)
        in_flight: set[asyncio.Task[None]] = set()
        failures: list[BaseException] = []
        writes: list[asyncio.Task[None]] = []

        async def store(batch: list[AccountFindings]) -> None:
            stored = await asyncio.to_thread(
                self.reports.record_findings, batch, at, source=self._source
            )
            if on_batch is None:
                kept.extend(stored)
            else:
                on_batch(stored)

        def write(batch: list[AccountFindings]) -> None:
            # Stored one batch after another (never two write transactions at once).
            previous = writes[-1] if writes else None
            writes.append(asyncio.create_task(_after(previous, store, batch)))

        async def one(target: ReconcileTarget) -> None:
            nonlocal done
            try:
                listings = await self.read_listings(target)
            finally:
                gate.release()
            # Only the counts and a bounded list are kept: the user lists go now.
            pending.append(account_findings(target, listings, at))
            done += 1
            if on_progress is not None:
                on_progress(done, len(targets))
            if len(pending) >= RECORD_BATCH:
                write(pending[:])
                pending.clear()

        def finished(task: asyncio.Task[None]) -> None:
            in_flight.discard(task)
            if not task.cancelled() and task.exception() is not None:
                failures.append(task.exception())  # type: ignore[arg-type]

        # A new account starts as soon as one finishes (never more than ``concurrency`` at
        # once, and never 10,000 tasks), so the platforms are kept busy to the end.
        for target in targets:
            await gate.acquire()
            if failures:
                gate.release()
                break
            task = asyncio.create_task(one(target))
            in_flight.add(task)
            task.add_done_callback(finished)
            if len(writes) >= 2 and not writes[-2].done():
                # Reading never runs more than one batch ahead of the database.
                await asyncio.wait([writes[-2]])
            if any(w.done() and w.exception() is not None for w in writes[-2:]):
                break  # a batch could not be stored: raised below
        if in_flight:
            await asyncio.wait(in_flight)
        if pending and not failures:
            write(pending[:])
        stored = await asyncio.gather(*writes, return_exceptions=True)
        failures.extend(outcome for outcome in stored if isinstance(outcome, BaseException))
        if failures:
            raise failures[0]
        order = {target.account.id: index for index, target in enumerate(targets)}
        kept.sort(key=lambda run: order.get(run.account.id, 0))
        return kept

    async def reconcile_account(self, account: AccountView) -> AccountReconciliation:
        """Reconcile one account now; its stored run."""
        runs = await self.reconcile(account.name)
        return runs[0]

    # -- the digest -----------------------------------------------------------------------------

    async def post_digest(
        self,
        account: AccountView,
        day: date,
        *,
        scheduled_for: datetime | None = None,
        force: bool = False,
    ) -> PostOutcome:
        """Post ``account``'s digest for local ``day`` once (see the module docstring)."""
        run_key = f"{account.name}/{day.isoformat()}"
        if account.channel_id is None:
            return PostOutcome(
                account.name, DIGEST_JOB, run_key, "no_channel", no_channel_reason(account)
            )
        now = self._clock()
        claim = await asyncio.to_thread(
            self.claims.claim,
            DIGEST_JOB,
            run_key,
            scheduled_for=scheduled_for or now,
            at=now,
            account_id=account.id,
            force=force,
        )
        if claim is None:
            return await self._posting.not_claimed(account, DIGEST_JOB, run_key)
        try:
            async with self._posting.holding(claim):
                return await self._post_digest(account, claim)
        except ClaimLost:
            return _taken_over(account, claim)
        except SlackPostFailed as error:
            return await self._posting.failed(account, claim, error.message)
        except Exception as error:
            reference = secrets.token_hex(4)
            logger.error(
                "The digest %s failed unexpectedly (reference %s)",
                run_key,
                reference,
                exc_info=error,
            )
            return await self._posting.failed(
                account, claim, f"internal error (reference {reference}); see the log"
            )

    async def _post_digest(self, account: AccountView, claim: Claim) -> PostOutcome:
        channel = report_channel(account)
        await self.reconcile_account(account)
        facts = await asyncio.to_thread(self.reports.digest, account.id, self._clock())
        where = self.where(account)
        main = digest_messages(facts, where, late_since=claim.scheduled_for if claim.late else None)
        details = details_messages(facts.run, where)
        poster = self._posting.require_poster()
        main_ts = await self._posting.post_parts(claim, account, main, "parts", thread_ts=None)
        thread_ts = main_ts[0]
        await self._posting.post_parts(claim, account, details, "thread", thread_ts=thread_ts)
        chart_id = await self._posting.upload_chart(claim, account, facts, thread_ts, poster)
        if not await asyncio.to_thread(self.claims.succeed, claim, at=self._clock()):
            raise ClaimLost(claim.run_key)
        updated = claim.previous_status is JobStatus.SUCCEEDED
        verb = "updated" if updated else "posted"
        late = " (late)" if claim.late else ""
        logger.info("Digest %s %s%s in %s", claim.run_key, verb, late, channel)
        return PostOutcome(
            account.name,
            DIGEST_JOB,
            claim.run_key,
            "updated" if updated else "posted",
            f"digest {verb}{late} in {channel} ({len(main) + len(details)} messages"
            f"{', with the trend chart' if chart_id else ''})",
            late=claim.late,
            message_ts=thread_ts,
            chart_file_id=chart_id,
            messages=len(main) + len(details),
        )

    # -- the reconciliation report --------------------------------------------------------------

    async def post_reconciliation(
        self, run: AccountReconciliation, *, force: bool = False
    ) -> PostOutcome:
        """Post ``run`` as the account's reconciliation report for its local day, once
        (``force``: update the posted one)."""
        account = run.account
        run_key = f"{account.name}/{run.local_date.isoformat()}"
        if account.channel_id is None:
            return PostOutcome(
                account.name, RECONCILE_JOB, run_key, "no_channel", no_channel_reason(account)
            )
        now = self._clock()
        claim = await asyncio.to_thread(
            self.claims.claim,
            RECONCILE_JOB,
            run_key,
            scheduled_for=now,
            at=now,
            account_id=account.id,
            force=force,
        )
        if claim is None:
            return await self._posting.not_claimed(account, RECONCILE_JOB, run_key)
        try:
            messages = reconciliation_messages(run, self.where(account))
            async with self._posting.holding(claim):
                posted = await self._posting.post_parts(
                    claim, account, messages, "parts", thread_ts=None
                )
                if not await asyncio.to_thread(self.claims.succeed, claim, at=self._clock()):
                    raise ClaimLost(claim.run_key)
        except ClaimLost:
            return _taken_over(account, claim)
        except SlackPostFailed as error:
            return await self._posting.failed(account, claim, error.message)
        updated = claim.previous_status is JobStatus.SUCCEEDED
        verb = "updated" if updated else "posted"
        return PostOutcome(
            account.name,
            RECONCILE_JOB,
            run_key,
            verb,
            f"reconciliation report {verb} in {account.channel_id}",
            message_ts=posted[0],
            messages=len(posted),
        )

    # -- the scheduler's tick -------------------------------------------------------------------

    async def tick(self) -> TickReport:
        """Start posting every digest that is due and not yet posted, once
        (:class:`handlers.digest_ticks.DigestTicks`); returns at once with what it started."""
        return await self._ticks.tick()

    async def drain(self) -> None:
        """Wait for every digest the ticks started."""
        await self._ticks.drain()

    async def _post_due(self, account: AccountView, day: date, due_at: datetime) -> PostOutcome:
        return await self.post_digest(account, day, scheduled_for=due_at)


def _taken_over(account: AccountView, claim: Claim) -> PostOutcome:
    what = "digest" if claim.job_name == DIGEST_JOB else "reconciliation report"
    logger.warning("Stopped posting the %s %s: another process took it over", what, claim.run_key)
    return PostOutcome(
        account.name, claim.job_name, claim.run_key, "in_progress", "taken over by another process"
    )


async def _after(
    previous: asyncio.Task[None] | None,
    work: Callable[[list[AccountFindings]], Awaitable[None]],
    batch: list[AccountFindings],
) -> None:
    if previous is not None:
        await previous
    await work(batch)
