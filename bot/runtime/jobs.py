"""The scheduled jobs on the event loop: daily digests, reconciliation reports and the
approvals' reminders, as ``seatbot serve``'s scheduler and ``seatbot reconcile|digest`` run them.

Every decision and every record is billing's (:class:`billing.reports.posting.ReportPosting`,
:class:`billing.approvals.reminders.ApprovalReminders`); this module only does what needs the
event loop: it runs their use cases with a :class:`bot.runtime.steps.StepRunner`, starts each
due digest as a task of its own (bounded, never twice at once in this process, and without
making the next tick wait), and reads many accounts' platforms at once for a reconciliation:

- :meth:`ReportJobs.reconcile` reads every product's users (fan-out bounded by ``concurrency``
  accounts at a time, and per platform host by the platform directory's ``HostLimits``), reduces
  each account's listings to its findings (counts and a bounded list) as soon as they are read,
  stores one run per account in batches of :data:`RECORD_BATCH`, and hands each batch on.
  With ``share``, it first claims each account in the database
  (:data:`billing.jobs.rules.SHARED_RECONCILIATION`, one run key per account and share), so
  every process reconciling the same share splits the accounts: each is reconciled by the one
  that claimed it, and the claim is marked done once its run is stored.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import date, datetime, time

from billing.approvals import ApprovalReminders, Approvals
from billing.jobs import (
    SHARED_RECONCILIATION,
    Claim,
    JobClaims,
    Posting,
    PostOutcome,
    SharedClaims,
    daily_share,
    share_run_key,
)
from billing.products import Product
from billing.reports import (
    AccountFindings,
    AccountReconciliation,
    DigestFacts,
    DueDigest,
    ReconcileTarget,
    ReportPosting,
    Reports,
    account_findings,
)
from billing.seats import UsersNeeded
from billing.users import UserListing
from billing.views import AccountView
from bot.runtime.steps import StepRunner, log_outcome
from handlers.facts import Found, PlatformFacts

logger = logging.getLogger(__name__)

#: Accounts reconciled at once, and stored per database transaction.
DEFAULT_CONCURRENCY = 64
RECORD_BATCH = 100
#: Accounts whose platforms are found in one database read, and of a shared reconciliation
#: claimed at once (what one process may hold unstarted).
CLAIM_CHUNK = 16
#: Digests built and posted at once by the ticks (each one waits its turn per channel/workspace).
DIGESTS_AT_ONCE = 32

#: ``on_batch(findings)``: called with each stored batch of runs (the caller keeps what it needs).
OnBatch = Callable[[list[AccountReconciliation]], None]


class ReportJobs:
    """Reconciliation runs, digests and reports (see the module docstring). ``clock`` returns an
    aware UTC instant; ``posting`` renders and sends; ``renew_s`` is how often a claim being
    worked on is renewed, in real seconds (see :class:`bot.runtime.steps.StepRunner`)."""

    def __init__(
        self,
        *,
        reports: Reports,
        claims: JobClaims,
        facts: PlatformFacts,
        clock: Callable[[], datetime],
        posting: Posting,
        concurrency: int = DEFAULT_CONCURRENCY,
        source: str = "schedule",
        renew_s: float | None = None,
    ) -> None:
        self.reports = reports
        self.claims = claims
        self.posting = ReportPosting(reports, claims, clock, source=source)
        self._facts = facts
        self._clock = clock
        self._runner = StepRunner(
            posting=posting, claims=claims, clock=clock, facts=facts, renew_s=renew_s
        )
        self._concurrency = max(1, concurrency)
        self._source = source
        self._in_flight: set[str] = set()
        self._shares: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._gate = asyncio.Semaphore(DIGESTS_AT_ONCE)

    def now(self) -> datetime:
        """The current instant on the jobs' clock (aware UTC)."""
        return self._clock()

    # -- posting --------------------------------------------------------------------------------

    async def post_digest(
        self,
        account: AccountView,
        day: date,
        *,
        scheduled_for: datetime | None = None,
        force: bool = False,
    ) -> PostOutcome:
        """Post ``account``'s digest for local ``day`` once
        (:meth:`billing.reports.posting.ReportPosting.digest`)."""
        steps = self.posting.digest(account, day, scheduled_for=scheduled_for, force=force)
        outcome = await self._runner.run(steps)
        log_outcome(outcome)
        return outcome

    async def post_reconciliation(
        self, run: AccountReconciliation, *, force: bool = False
    ) -> PostOutcome:
        """Post ``run`` as the account's reconciliation report for its local day, once
        (``force``: update the posted one)."""
        outcome = await self._runner.run(self.posting.reconciliation(run, force=force))
        log_outcome(outcome)
        return outcome

    async def preview_digest(self, target: ReconcileTarget) -> DigestFacts:
        """What ``target``'s digest would say now, its platforms read and nothing stored."""
        listings = await self.read_listings(target)
        at = self._clock()
        findings = account_findings(target, listings, at)
        return await asyncio.to_thread(self.reports.preview_digest, findings, at)

    async def reconcile_account(self, account: AccountView) -> AccountReconciliation:
        """Reconcile one account now; its stored run."""
        return await self._runner.run(self.posting.reconcile(account))

    # -- the scheduler's tick -------------------------------------------------------------------

    async def tick(self) -> list[str]:
        """Start posting every digest that is due and not done (billing says which:
        :meth:`~billing.reports.posting.ReportPosting.due`); returns at once with the run keys
        it started, so that a long post never delays the next tick (:meth:`drain` waits for
        them). Digests in flight in this process are not started twice (the database claim is
        what guarantees it across processes)."""
        due = await asyncio.to_thread(self.posting.due, self._clock(), busy=set(self._in_flight))
        for outcome in due.skipped:
            log_outcome(outcome)
        for digest in due.digests:
            self._in_flight.add(digest.run_key)
            task = asyncio.create_task(self._post_due(digest))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return [digest.run_key for digest in due.digests]

    async def drain(self) -> None:
        """Wait for every digest the ticks started."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _post_due(self, digest: DueDigest) -> None:
        try:
            async with self._gate:
                await self.post_digest(digest.account, digest.day, scheduled_for=digest.due_at)
        except Exception as error:  # logged; the claim (if any) shows it, retried later
            logger.error("The digest %s failed", digest.run_key, exc_info=error)
        finally:
            self._in_flight.discard(digest.run_key)

    # -- the scheduled shared reconciliation ----------------------------------------------------

    async def reconcile_tick(self, utc_time: time) -> str | None:
        """Once a day from ``utc_time`` (UTC), start reconciling every account in that day's
        share (:func:`billing.jobs.rules.daily_share`) without making the tick wait; every
        replica does, and the per-account claims split the accounts between them. Returns the
        share started, or ``None`` (not due, or started in this process already)."""
        share = daily_share(self._clock(), utc_time)
        if share is None or share in self._shares:
            return None
        self._shares.add(share)
        task = asyncio.create_task(self._reconcile_share(share))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return share

    async def _reconcile_share(self, share: str) -> None:
        done = 0

        def counted(runs: list[AccountReconciliation]) -> None:
            nonlocal done
            done += len(runs)

        try:
            await self.reconcile(None, share=share, on_batch=counted)
        except Exception as error:  # logged; the next tick starts the share again
            self._shares.discard(share)
            logger.error("The shared reconciliation %s failed", share, exc_info=error)
        else:
            logger.info("Shared reconciliation %s: %d account(s) reconciled here", share, done)

    # -- reconciliation -------------------------------------------------------------------------

    async def read_listings(
        self, target: ReconcileTarget, found: Found | None = None
    ) -> dict[Product, UserListing]:
        """Every subscribed product's users for one account, read at once from its platforms
        ``found`` beforehand, if they were (never raises for a platform: an unreadable one is
        unknown with its reason)."""
        products = [s.product for s in target.subscriptions]
        needed = [UsersNeeded(target.account.id, p) for p in products]
        listings = await self._facts.listings(needed, found)
        return dict(zip(products, listings, strict=True))

    async def reconcile(
        self,
        account_name: str | None,
        *,
        share: str | None = None,
        on_batch: OnBatch | None = None,
        on_progress: Callable[[int, int], None] | None = None,
    ) -> list[AccountReconciliation]:
        """Reconcile one account (or every one) now and store the runs; with ``share``, only
        the accounts this process claims in that shared reconciliation (see the module
        docstring): the others are another process's, or done.

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
        held: dict[int, Claim] = {}

        async def store(batch: list[AccountFindings]) -> None:
            done_claims = [
                held.pop(f.target.account.id) for f in batch if f.target.account.id in held
            ]
            stored = await asyncio.to_thread(self._record, batch, at, done_claims)
            if on_batch is None:
                kept.extend(stored)
            else:
                on_batch(stored)

        def write(batch: list[AccountFindings]) -> None:
            # Stored one batch after another (never two write transactions at once).
            previous = writes[-1] if writes else None
            writes.append(asyncio.create_task(_after(previous, store, batch)))

        async def one(target: ReconcileTarget, found: Found | None) -> None:
            nonlocal done
            try:
                listings = await self.read_listings(target, found)
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
        async def mine() -> AsyncIterator[tuple[ReconcileTarget, Found | None]]:
            """The targets this process does (every one, or those it claims in ``share``), a
            chunk at a time, each with its platforms found in one database read per chunk."""
            for start in range(0, len(targets), CLAIM_CHUNK):
                chunk = targets[start : start + CLAIM_CHUNK]
                if share is not None:
                    won = await asyncio.to_thread(self._claim, share, chunk, at)
                    held.update(won)
                    chunk = [target for target in chunk if target.account.id in won]
                products = dict.fromkeys(s.product for t in chunk for s in t.subscriptions)
                found = await self._facts.platforms([t.account.id for t in chunk], list(products))
                for target in chunk:
                    yield target, found.get(target.account.id)

        async for target, found in mine():
            await gate.acquire()
            if failures:
                gate.release()
                break
            task = asyncio.create_task(one(target, found))
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

    def _claim(self, share: str, chunk: list[ReconcileTarget], at: datetime) -> dict[int, Claim]:
        """Claim the chunk's accounts in ``share``: the claims won, by account id."""
        keys = {share_run_key(share, t.account.name): t.account.id for t in chunk}
        won = SharedClaims(self.claims).claim(
            SHARED_RECONCILIATION, keys, scheduled_for=at, at=self._clock()
        )
        return {keys[key]: claim for key, claim in won.items()}

    def _record(
        self, batch: list[AccountFindings], at: datetime, claims: list[Claim]
    ) -> list[AccountReconciliation]:
        """Store the batch's runs, then mark their claims done (a process that dies between
        the two leaves claims that another takes over when they go stale, and redoes)."""
        stored = self.reports.record_findings(batch, at, source=self._source)
        if claims:
            SharedClaims(self.claims).succeed(claims, at=self._clock())
        return stored


class ApprovalJobs:
    """The approvals' scheduled work: :meth:`tick` runs every due step once
    (:class:`billing.approvals.reminders.ApprovalReminders`)."""

    def __init__(
        self,
        approvals: Approvals,
        claims: JobClaims,
        posting: Posting,
        *,
        clock: Callable[[], datetime],
    ) -> None:
        self._reminders = ApprovalReminders(approvals, claims, clock)
        self._runner = StepRunner(posting=posting, claims=claims, clock=clock)
        self._clock = clock

    async def tick(self) -> int:
        """Run every step due now that no replica has claimed; returns how many ran."""
        now = self._clock()
        done = 0
        for item in await asyncio.to_thread(self._reminders.due, now):
            outcome = await self._runner.run(self._reminders.run(item, now))
            log_outcome(outcome)
            done += outcome is not None and outcome.status == "done"
        return done


async def _after(
    previous: asyncio.Task[None] | None,
    work: Callable[[list[AccountFindings]], Awaitable[None]],
    batch: list[AccountFindings],
) -> None:
    if previous is not None:
        await previous
    await work(batch)
