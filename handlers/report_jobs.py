"""The bodies of the scheduled and command-line report jobs: reconcile, build, post, once.

:class:`ReportJobs` is what ``seatbot serve``'s scheduler and ``seatbot reconcile|digest``
call. It acts for the operator (nobody is authorised), and an account's digest and report go
only to that account's own ``channel_id``.

- :meth:`ReportJobs.reconcile` reads every product's users (fan-out bounded by ``concurrency``
  accounts at a time, and per platform host by the platform directory's ``HostLimits``),
  stores one run per account in batches, and hands each batch's findings on.
- :meth:`ReportJobs.post_digest` claims (``digest``, ``account/local date``) in the database
  *before* doing anything, then reconciles, builds the digest from the stored run, posts it
  (split into valid messages), lists every user holding a seat without using it in the
  thread, uploads the 30-day trend chart into the thread (from 7 days of runs), and marks the
  claim done. A second process, or a second run, finds the claim taken: "already posted".
  ``force`` updates the posted messages (``chat.update`` on the stored ``ts``) instead.
- :meth:`ReportJobs.tick` is the scheduler's job: every account's due digest, once; one missed
  while nothing ran is posted late (marked so); one more than a day late is skipped and logged.

A post that fails (Slack refused it, kept answering 429, or was unreachable) marks the claim
failed with the reason; it is logged, returned to the caller, and tried again on a later tick
(up to :data:`billing.job_claims.DEFAULT_MAX_ATTEMPTS` times), never dropped silently.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from billing.job_claims import Claim, JobClaims, JobRunView, JobStatus
from billing.outcomes import UsersNeeded
from billing.periods import local_date, zone
from billing.products import Product
from billing.report_facts import (
    DIGEST_JOB,
    RECONCILE_JOB,
    AccountReconciliation,
    DigestFacts,
    ReconcileTarget,
    TrendPoint,
)
from billing.reports import Reports
from billing.users import UserListing
from billing.views import AccountView
from handlers.facts import PlatformFacts
from handlers.slack_posting import SlackPoster, SlackPostFailed
from handlers.views.digest import (
    chart_alt_text,
    details_messages,
    digest_messages,
    reconciliation_messages,
)
from handlers.views.text import Locale, Message

logger = logging.getLogger(__name__)

#: A digest due more than this long ago, never posted, is skipped (and logged) instead.
SKIP_AFTER = timedelta(days=1)
#: Accounts reconciled at once, and stored per database transaction.
DEFAULT_CONCURRENCY = 64
RECORD_BATCH = 200
#: Digests built and posted at once by one tick (each one waits its turn per channel/workspace).
DIGESTS_AT_ONCE = 32

#: ``render_chart(trend, title)``: the PNG of seats vs users per product, or ``None``.
ChartRenderer = Callable[[Sequence[TrendPoint], str], bytes]
#: ``on_batch(findings)``: called with each stored batch of runs (the caller keeps what it needs).
OnBatch = Callable[[list[AccountReconciliation]], None]


class ClaimLost(Exception):
    """The run's claim was taken over (this process was thought dead): stop posting."""


@dataclass(frozen=True)
class PostOutcome:
    """What one post attempt did, in words for the operator.

    ``status``: ``posted``, ``updated`` (``force``), ``already_posted``, ``in_progress`` (another
    process holds the claim), ``no_channel``, ``skipped`` (too late) or ``failed``."""

    account: str
    job: str
    run_key: str
    status: str
    detail: str
    late: bool = False
    message_ts: str | None = None
    chart_file_id: str | None = None
    messages: int = 0

    @property
    def ok(self) -> bool:
        return self.status not in ("failed",)


@dataclass
class TickReport:
    """What one scheduler tick started (run keys), and the outcomes as they finish."""

    started: list[str] = field(default_factory=list)
    outcomes: list[PostOutcome] = field(default_factory=list)


class ReportJobs:
    """Reconciliation runs, digests and reports (see the module docstring).

    ``clock`` returns an aware UTC instant; ``poster`` is ``None`` when Slack is not configured
    (then nothing can be posted and saying so is the outcome); ``chart`` renders the trend PNG.
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
    ) -> None:
        self.reports = reports
        self.claims = claims
        self._facts = facts
        self._clock = clock
        self.poster = poster
        self._chart = chart
        self._locale = locale
        self._concurrency = max(1, concurrency)
        self._source = source
        self._in_flight: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._gate = asyncio.Semaphore(DIGESTS_AT_ONCE)

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
        listings = await asyncio.gather(
            *(self._facts.listing(UsersNeeded(target.account.id, p)) for p in products)
        )
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
        pending: list[tuple[ReconcileTarget, dict[Product, UserListing]]] = []
        done = 0
        gate = asyncio.Semaphore(self._concurrency)
        writes: list[asyncio.Task[None]] = []

        async def store(batch: list[tuple[ReconcileTarget, dict[Product, UserListing]]]) -> None:
            stored = await asyncio.to_thread(self.reports.record, batch, at, source=self._source)
            if on_batch is None:
                kept.extend(stored)
            else:
                on_batch(stored)

        async def one(target: ReconcileTarget) -> None:
            nonlocal done
            async with gate:
                listings = await self.read_listings(target)
            pending.append((target, listings))
            done += 1
            if on_progress is not None:
                on_progress(done, len(targets))
            if len(pending) >= RECORD_BATCH:
                batch = pending[:]
                pending.clear()
                # Stored one batch after another (never two write transactions at once).
                previous = writes[-1] if writes else None
                writes.append(asyncio.create_task(_after(previous, store(batch))))

        # Accounts are started in order, a bounded number at a time, so that 10,000 of them
        # never hold 10,000 tasks and their listings at once.
        window = self._concurrency * 4
        for start in range(0, len(targets), window):
            await asyncio.gather(*(one(t) for t in targets[start : start + window]))
        if pending:
            previous = writes[-1] if writes else None
            writes.append(asyncio.create_task(_after(previous, store(pending[:]))))
        for task in writes:
            await task
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
                account.name, DIGEST_JOB, run_key, "no_channel", _no_channel(account)
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
            return await self._not_claimed(account, DIGEST_JOB, run_key)
        try:
            return await self._post_digest(account, claim)
        except ClaimLost:
            logger.warning("Stopped posting the digest %s: another process took it over", run_key)
            return PostOutcome(
                account.name, DIGEST_JOB, run_key, "in_progress", "taken over by another process"
            )
        except SlackPostFailed as error:
            return await self._failed(account, claim, error.message)
        except Exception as error:
            reference = secrets.token_hex(4)
            logger.error(
                "The digest %s failed unexpectedly (reference %s)",
                run_key,
                reference,
                exc_info=error,
            )
            return await self._failed(
                account, claim, f"internal error (reference {reference}); see the log"
            )

    async def _post_digest(self, account: AccountView, claim: Claim) -> PostOutcome:
        channel = _channel(account)
        await self.reconcile_account(account)
        facts = await asyncio.to_thread(self.reports.digest, account.id, self._clock())
        where = self.where(account)
        main = digest_messages(facts, where, late_since=claim.scheduled_for if claim.late else None)
        details = details_messages(facts.run, where)
        poster = self._require_poster()
        main_ts = await self._post_parts(claim, account, main, "parts", thread_ts=None)
        thread_ts = main_ts[0]
        await self._post_parts(claim, account, details, "thread", thread_ts=thread_ts)
        chart_id = await self._upload_chart(claim, account, facts, thread_ts, poster)
        await asyncio.to_thread(self.claims.succeed, claim, at=self._clock())
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

    async def _post_parts(
        self,
        claim: Claim,
        account: AccountView,
        messages: Sequence[Message],
        name: str,
        *,
        thread_ts: str | None,
    ) -> list[str]:
        """Post ``messages`` (updating those an earlier attempt posted, by their stored ``ts``),
        recording each ``ts`` as soon as it exists; returns them in order."""
        poster = self._require_poster()
        channel = _channel(account)
        before: list[str] = [str(ts) for ts in claim.detail.get(name) or []]
        if name == "parts" and not before and claim.message_ts:
            before = [claim.message_ts]
        posted: list[str] = []
        for index, part in enumerate(messages):
            if index < len(before):
                await poster.update(account.team_id, channel, before[index], part)
                posted.append(before[index])
                continue
            ts = await poster.post(account.team_id, channel, part, thread_ts=thread_ts)
            posted.append(ts)
            extra: dict[str, Any] = {name: posted}
            first = posted[0] if name == "parts" else None
            kept = await asyncio.to_thread(
                self.claims.progress, claim, channel_id=channel, message_ts=first, **extra
            )
            if not kept:
                raise ClaimLost(claim.run_key)
        return posted

    async def _upload_chart(
        self,
        claim: Claim,
        account: AccountView,
        facts: DigestFacts,
        thread_ts: str,
        poster: SlackPoster,
    ) -> str | None:
        """Upload the trend chart into the thread, once per digest (never on a retry that
        already uploaded it)."""
        if self._chart is None or not facts.has_chart:
            return None
        uploaded = claim.detail.get("chart_file_id")
        if uploaded:
            return str(uploaded)
        png = await asyncio.to_thread(self._chart, facts.trend, _chart_title(facts))
        file_id = await poster.upload(
            account.team_id,
            _channel(account),
            thread_ts=thread_ts,
            filename=f"seat-trend-{account.name}-{facts.run.local_date.isoformat()}.png",
            content=png,
            title=f"Seats vs users, last 30 days · {account.display_name}",
            alt_text=chart_alt_text(facts),
        )
        await asyncio.to_thread(self.claims.progress, claim, chart_file_id=file_id)
        return file_id

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
                account.name, RECONCILE_JOB, run_key, "no_channel", _no_channel(account)
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
            return await self._not_claimed(account, RECONCILE_JOB, run_key)
        try:
            messages = reconciliation_messages(run, self.where(account))
            posted = await self._post_parts(claim, account, messages, "parts", thread_ts=None)
            await asyncio.to_thread(self.claims.succeed, claim, at=self._clock())
        except SlackPostFailed as error:
            return await self._failed(account, claim, error.message)
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
        """Start posting every digest that is due and not yet posted (see the module
        docstring); returns at once with what it started, so that a long post never delays the
        next tick (:meth:`drain` waits for them). Digests already in flight in this process
        are not started twice (the database claim is what guarantees it across processes)."""
        report = TickReport()
        now = self._clock()
        schedule = await asyncio.to_thread(self.reports.digest_schedule)
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
        existing = await asyncio.to_thread(self.claims.find, DIGEST_JOB, run_key)
        if existing is not None and not self._retry_due(existing, now):
            return None
        if existing is None and now - due_at > SKIP_AFTER:
            reason = f"due {due_at.isoformat()}, more than a day ago; Seatbot was not running then"
            recorded = await asyncio.to_thread(
                self.claims.skip,
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
        return await self.post_digest(account, day, scheduled_for=due_at)

    def _retry_due(self, run: JobRunView, now: datetime) -> bool:
        """Whether a stored run should be claimed again by the scheduler: it failed with
        attempts left, or it has been running so long its process must have died."""
        if run.status is JobStatus.FAILED:
            return run.attempts < self.claims.max_attempts
        if run.status is JobStatus.RUNNING:
            return now - run.started_at > self.claims.stale_after
        return False

    # -- shared ---------------------------------------------------------------------------------

    def _require_poster(self) -> SlackPoster:
        if self.poster is None:
            raise SlackPostFailed(
                "Slack is not configured (SLACK_BOT_TOKEN, or SLACK_CLIENT_ID and "
                "SLACK_CLIENT_SECRET with the app installed), so nothing can be posted."
            )
        return self.poster

    async def _not_claimed(self, account: AccountView, job: str, run_key: str) -> PostOutcome:
        run = await asyncio.to_thread(self.claims.find, job, run_key)
        what = "digest" if job == DIGEST_JOB else "reconciliation report"
        if run is None:
            return PostOutcome(account.name, job, run_key, "in_progress", f"{what} not claimed")
        if run.status is JobStatus.SUCCEEDED:
            return PostOutcome(
                account.name,
                job,
                run_key,
                "already_posted",
                f"already posted: today's {what} is in {run.channel_id} (--force updates it)",
                late=run.late,
                message_ts=run.message_ts,
            )
        if run.status is JobStatus.SKIPPED:
            return PostOutcome(
                account.name, job, run_key, "skipped", f"{what} skipped: too late", late=True
            )
        if run.status is JobStatus.FAILED:
            error = run.detail.get("error") or "unknown error"
            return PostOutcome(
                account.name,
                job,
                run_key,
                "failed",
                f"{what} failed {run.attempts} times (last: {error}); --force tries again",
            )
        return PostOutcome(
            account.name,
            job,
            run_key,
            "in_progress",
            f"another process is posting this {what} now",
        )

    async def _failed(self, account: AccountView, claim: Claim, reason: str) -> PostOutcome:
        await asyncio.to_thread(self.claims.fail, claim, at=self._clock(), error=reason)
        left = self.claims.max_attempts - claim.attempt
        what = "digest" if claim.job_name == DIGEST_JOB else "reconciliation report"
        retry = f"it will be tried again ({left} tries left)" if left > 0 else "giving up"
        logger.error("The %s %s was not posted: %s; %s", what, claim.run_key, reason, retry)
        return PostOutcome(
            account.name,
            claim.job_name,
            claim.run_key,
            "failed",
            f"{what} not posted: {reason}; {retry}",
            late=claim.late,
        )


async def _after(previous: asyncio.Task[None] | None, work: Awaitable[None]) -> None:
    if previous is not None:
        await previous
    await work


def _no_channel(account: AccountView) -> str:
    return (
        f"{account.name} has no slack.channel_id, so its digest and reports have nowhere "
        "to go; add one to the accounts file"
    )


def _due_instant(day: date, at: time, timezone: str) -> datetime:
    """When a digest at local ``at`` on ``day`` is due, as an aware UTC instant."""
    return datetime(
        day.year, day.month, day.day, at.hour, at.minute, tzinfo=zone(timezone)
    ).astimezone(UTC)


def _chart_title(facts: DigestFacts) -> str:
    return f"{facts.account.display_name}: seats vs users, last 30 days"


def _channel(account: AccountView) -> str:
    if account.channel_id is None:
        raise SlackPostFailed(_no_channel(account))
    return account.channel_id
