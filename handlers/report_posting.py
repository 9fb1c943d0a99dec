"""Posting one report under its claim (a ``job_runs`` row): the messages posted in order, or
updated by the ``ts`` an earlier attempt stored, each recorded as soon as it exists; the trend
chart uploaded into the thread once; and the outcome in words for the operator when the claim
is held elsewhere, was done already, or the post failed (and whether it will be tried again).

While a report is posted its claim is renewed in the background (:meth:`ClaimedPoster.holding`),
so a live process slow in Slack is never taken for a dead one. Before each Slack call the claim
is renewed once more, which says whether this process still holds it and what the run has
recorded by now (another process may have recorded parts since this one claimed); after each
post the part is recorded, even when the claim was taken over meanwhile, so whoever holds the
run updates it rather than posting it again (:mod:`billing.jobs.rules`).

:class:`handlers.report_jobs.ReportJobs` claims, builds the messages and calls these.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from billing.jobs.rules import JobStatus, posted_part
from billing.jobs.store import Claim, JobClaims, JobRunView
from billing.reports.facts import DIGEST_JOB, DigestFacts, TrendPoint
from billing.views import AccountView
from handlers.slack_posting import SlackPoster, SlackPostFailed
from handlers.views.digest import chart_alt_text
from handlers.views.text import Message

logger = logging.getLogger(__name__)

#: ``render_chart(trend, title)``: the PNG of seats vs users per product, or ``None``.
ChartRenderer = Callable[[Sequence[TrendPoint], str], bytes]
#: The run's detail key of its uploaded chart's file id.
CHART = "chart_file_id"


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


class ClaimedPoster:
    """Posts a claimed report's parts and records each step on its claim.

    ``poster`` is ``None`` when Slack is not configured (then posting fails, saying so);
    ``chart`` renders the trend PNG (``None``: no chart); ``clock`` returns an aware UTC instant;
    ``renew_s`` is how often a held claim is renewed, in real seconds (default: the claims'
    :attr:`~billing.jobs.store.JobClaims.renew_every`; shorter when ``clock`` runs faster).
    """

    def __init__(
        self,
        *,
        claims: JobClaims,
        poster: SlackPoster | None,
        chart: ChartRenderer | None,
        clock: Callable[[], datetime],
        renew_s: float | None = None,
    ) -> None:
        self._claims = claims
        self._poster = poster
        self._chart = chart
        self._clock = clock
        self._renew_s = claims.renew_every.total_seconds() if renew_s is None else renew_s

    def require_poster(self) -> SlackPoster:
        """The Slack poster; :class:`SlackPostFailed` when Slack is not configured."""
        if self._poster is None:
            raise SlackPostFailed(
                "Slack is not configured (SLACK_BOT_TOKEN, or SLACK_CLIENT_ID and "
                "SLACK_CLIENT_SECRET with the app installed), so nothing can be posted."
            )
        return self._poster

    @contextlib.asynccontextmanager
    async def holding(self, claim: Claim) -> AsyncIterator[None]:
        """Renew ``claim`` every ``renew_s`` while the block runs (this process is alive and
        working on it, however long Slack or a platform takes)."""
        renewing = asyncio.create_task(self._keep_renewing(claim))
        try:
            yield
        finally:
            renewing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewing

    async def _keep_renewing(self, claim: Claim) -> None:
        while True:
            await asyncio.sleep(self._renew_s)
            try:
                if await asyncio.to_thread(self._claims.renew, claim, at=self._clock()) is None:
                    return  # taken over: the next step finds out and stops
            except Exception as error:  # the database is unreachable: try again next time
                logger.warning(
                    "Could not renew the claim on %s %s (%s)",
                    claim.job_name,
                    claim.run_key,
                    type(error).__name__,
                )

    async def _still_held(self, claim: Claim) -> JobRunView:
        """Renew ``claim`` before a Slack call: the run as recorded now, or :class:`ClaimLost`."""
        run = await asyncio.to_thread(self._claims.renew, claim, at=self._clock())
        if run is None:
            raise ClaimLost(claim.run_key)
        return run

    async def _record(
        self, claim: Claim, key: str, posted: str, index: int | None, channel: str
    ) -> str:
        """Record ``posted`` under the run, held or not; what the run keeps for that part (the
        first recorded), or :class:`ClaimLost` once it is recorded."""
        result = await asyncio.to_thread(
            self._claims.record_posted, claim, key, posted, index=index, channel_id=channel
        )
        if result.recorded != posted:
            what = key if index is None else f"{key} part {index + 1}"
            logger.warning(
                "%s %s: %s was posted twice in %s (%s is recorded, %s is not)",
                claim.job_name,
                claim.run_key,
                what,
                channel,
                result.recorded,
                posted,
            )
        if not result.held:
            raise ClaimLost(claim.run_key)
        return result.recorded

    async def post_parts(
        self,
        claim: Claim,
        account: AccountView,
        messages: Sequence[Message],
        name: str,
        *,
        thread_ts: str | None,
    ) -> list[str]:
        """Post ``messages`` (updating those already recorded, by their ``ts``), recording each
        ``ts`` as soon as it exists; returns them in order."""
        poster = self.require_poster()
        channel = report_channel(account)
        posted: list[str] = []
        for index, part in enumerate(messages):
            run = await self._still_held(claim)
            ts = posted_part(run.detail, name, index, message_ts=run.message_ts)
            if ts is not None:
                await poster.update(account.team_id, channel, ts, part)
            else:
                ts = await poster.post(account.team_id, channel, part, thread_ts=thread_ts)
                ts = await self._record(claim, name, ts, index, channel)
            posted.append(ts)
        return posted

    async def upload_chart(
        self,
        claim: Claim,
        account: AccountView,
        facts: DigestFacts,
        thread_ts: str,
        poster: SlackPoster,
    ) -> str | None:
        """Upload the trend chart into the thread, once per digest (never again once one is
        recorded)."""
        if self._chart is None or not facts.has_chart:
            return None
        png = await asyncio.to_thread(self._chart, facts.trend, _chart_title(facts))
        uploaded = posted_part((await self._still_held(claim)).detail, CHART)
        if uploaded is not None:
            return uploaded
        channel = report_channel(account)
        file_id = await poster.upload(
            account.team_id,
            channel,
            thread_ts=thread_ts,
            filename=f"seat-trend-{account.name}-{facts.run.local_date.isoformat()}.png",
            content=png,
            title=f"Seats vs users, last 30 days · {account.display_name}",
            alt_text=chart_alt_text(facts),
        )
        return await self._record(claim, CHART, file_id, None, channel)

    async def not_claimed(self, account: AccountView, job: str, run_key: str) -> PostOutcome:
        """The outcome when ``job``'s ``run_key`` could not be claimed, from its stored run."""
        run = await asyncio.to_thread(self._claims.find, job, run_key)
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

    async def failed(self, account: AccountView, claim: Claim, reason: str) -> PostOutcome:
        """Mark ``claim`` failed with ``reason``, log it, and say whether it will be retried."""
        await asyncio.to_thread(self._claims.fail, claim, at=self._clock(), error=reason)
        left = self._claims.max_attempts - claim.attempt
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


def no_channel_reason(account: AccountView) -> str:
    """Why nothing can be posted for ``account``: it has no report channel."""
    return (
        f"{account.name} has no slack.channel_id, so its digest and reports have nowhere "
        "to go; add one to the accounts file"
    )


def report_channel(account: AccountView) -> str:
    """The account's own channel, where its reports go; :class:`SlackPostFailed` without one."""
    if account.channel_id is None:
        raise SlackPostFailed(no_channel_reason(account))
    return account.channel_id


def _chart_title(facts: DigestFacts) -> str:
    return f"{facts.account.display_name}: seats vs users, last 30 days"
