"""The daily digest and the reconciliation report, posted once per account and day: the use
cases ``seatbot serve``'s scheduler and ``seatbot reconcile|digest --post`` run (through the
edge, as :mod:`billing.jobs.ports` describes). They act for the operator (nobody is authorised),
and an account's reports go only to that account's own ``channel_id``.

- :meth:`ReportPosting.due` is the scheduler's tick: every account's digest that is due and not
  done, once; one missed while nothing ran is posted late (marked so); one more than a day late
  is skipped and recorded; one that failed is tried again while it has attempts left; one whose
  poster stopped renewing its claim is taken over (:func:`billing.jobs.rules.start_step`).
- :meth:`ReportPosting.digest` claims (``digest``, ``account/local date``) *before* doing
  anything, reconciles the account (its platforms read by the edge), builds the digest from the
  stored run, posts it (in as many messages as it needs), lists in its thread every user holding
  a seat without using it, uploads the 30-day trend chart into the thread, and marks the claim
  done. A second process, or a second run, finds the claim taken: "already posted"; ``force``
  updates the posted messages instead.
- :meth:`ReportPosting.reconciliation` posts a stored run as the account's report, once.

How a claimed run is posted, resumed after a takeover, and fails to be tried again is
:class:`billing.jobs.service.ClaimedPosts`.
"""

from __future__ import annotations

from collections.abc import Callable, Container
from dataclasses import dataclass
from datetime import date, datetime

from billing.jobs.ports import ReadUsers, Render, Steps
from billing.jobs.rules import (
    MAIN_PARTS,
    Claim,
    PostOutcome,
    Start,
    daily_run_key,
    due_days,
    skipped,
    start_step,
)
from billing.jobs.service import ClaimedPosts
from billing.jobs.store import JobClaims
from billing.periods import zone
from billing.reports.facts import DIGEST_JOB, RECONCILE_JOB, AccountReconciliation, DigestFacts
from billing.reports.service import Reports, account_findings
from billing.views import AccountView

DIGEST = "digest"
REPORT = "reconciliation report"


# What the edge is asked to show: a stored run is rendered as the account's reconciliation report
# and the digest's facts are drawn as its trend chart; these two show the digest.


@dataclass(frozen=True)
class DigestView:
    """The digest itself (``late_since``: when it was due, for one posted late)."""

    facts: DigestFacts
    late_since: datetime | None = None


@dataclass(frozen=True)
class HeldSeatsView:
    """The digest's thread: every user who holds a seat without using it."""

    run: AccountReconciliation


@dataclass(frozen=True)
class DueDigest:
    """A digest to post now: ``account``'s for local ``day``, due at ``due_at``."""

    account: AccountView
    day: date
    due_at: datetime

    @property
    def run_key(self) -> str:
        return daily_run_key(self.account.name, self.day)


@dataclass(frozen=True)
class Due:
    """What a tick found: the digests to post, and those it recorded as skipped."""

    digests: list[DueDigest]
    skipped: list[PostOutcome]


class ReportPosting:
    """The digest and the reconciliation report, posted once (see the module docstring).
    ``clock`` returns an aware UTC instant; ``source`` labels the runs it stores."""

    def __init__(
        self,
        reports: Reports,
        claims: JobClaims,
        clock: Callable[[], datetime],
        *,
        source: str = "schedule",
    ) -> None:
        self.reports = reports
        self.claims = claims
        self._clock = clock
        self._source = source
        self._posts = ClaimedPosts(claims, clock)

    def due(self, at: datetime, *, busy: Container[str] = ()) -> Due:
        """The digests due at ``at`` that are not done (nor among ``busy``, the run keys this
        process is posting now); the ones too late are recorded as skipped."""
        candidates = [
            DueDigest(entry.account, day, due_at)
            for entry in self.reports.digest_schedule()
            for day, due_at in due_days(
                entry.digest_at, zone(entry.account.timezone), at, since=entry.loaded_at
            )
        ]
        candidates = [c for c in candidates if c.run_key not in busy]
        runs = self.claims.find_many(DIGEST_JOB, [c.run_key for c in candidates])
        due = Due([], [])
        for candidate in candidates:
            step = start_step(
                runs.get(candidate.run_key),
                candidate.due_at,
                at,
                stale_after=self.claims.stale_after,
                max_attempts=self.claims.max_attempts,
            )
            if step is Start.CLAIM:
                due.digests.append(candidate)
            elif step is Start.SKIP:
                account = candidate.account
                reason, outcome = skipped(
                    account.name,
                    DIGEST_JOB,
                    candidate.run_key,
                    candidate.due_at,
                    zone(account.timezone),
                )
                recorded = self.claims.skip(
                    DIGEST_JOB,
                    candidate.run_key,
                    scheduled_for=candidate.due_at,
                    at=at,
                    reason=reason,
                    account_id=account.id,
                )
                if recorded:  # only the process that recorded it tells
                    due.skipped.append(outcome)
        return due

    def reconcile(self, account: AccountView) -> Steps[AccountReconciliation]:
        """Reconcile ``account`` now (its platforms read by the edge) and store the run."""
        at = self._clock()
        [target] = self.reports.targets(account.name, at)
        products = [s.product for s in target.subscriptions]
        listings = yield ReadUsers(account.id, tuple(products))
        findings = account_findings(target, dict(zip(products, listings, strict=True)), at)
        [run] = self.reports.record_findings([findings], at, source=self._source)
        return run

    def digest(
        self,
        account: AccountView,
        day: date,
        *,
        scheduled_for: datetime | None = None,
        force: bool = False,
    ) -> Steps[PostOutcome]:
        """Post ``account``'s digest for local ``day`` once (see the module docstring)."""
        run_key = daily_run_key(account.name, day)
        started = self._posts.start(
            DIGEST_JOB, run_key, account, DIGEST, scheduled_for=scheduled_for, force=force
        )
        if isinstance(started, PostOutcome):
            return started
        return (
            yield from self._posts.run(started, account, DIGEST, self._digest(started, account))
        )

    def _digest(self, claim: Claim, account: AccountView) -> Steps[PostOutcome]:
        yield from self.reconcile(account)
        facts = self.reports.digest(account.id, self._clock())
        late_since = claim.scheduled_for if claim.late else None
        main = yield Render(DigestView(facts, late_since))
        thread = yield Render(HeldSeatsView(facts.run))
        posts = self._posts
        posted = yield from posts.post_parts(claim, account, main, MAIN_PARTS)
        posted += yield from posts.post_parts(claim, account, thread, "thread", thread_ts=posted[0])
        chart = None
        if facts.has_chart:
            chart = yield from posts.upload_once(claim, account, facts, posted[0])
        return posts.finish(claim, account, DIGEST, posted, chart_file_id=chart)

    def reconciliation(
        self, run: AccountReconciliation, *, force: bool = False
    ) -> Steps[PostOutcome]:
        """Post ``run`` as the account's reconciliation report for its local day, once
        (``force``: update the posted one)."""
        account = run.account
        run_key = daily_run_key(account.name, run.local_date)
        started = self._posts.start(RECONCILE_JOB, run_key, account, REPORT, force=force)
        if isinstance(started, PostOutcome):
            return started
        return (yield from self._posts.run(started, account, REPORT, self._report(started, run)))

    def _report(self, claim: Claim, run: AccountReconciliation) -> Steps[PostOutcome]:
        messages = yield Render(run)
        posted = yield from self._posts.post_parts(claim, run.account, messages, MAIN_PARTS)
        return self._posts.finish(claim, run.account, REPORT, posted)
