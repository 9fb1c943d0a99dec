"""Posting one report under its claim (a ``job_runs`` row): the messages posted in order, or
updated by the ``ts`` an earlier attempt stored, each recorded as soon as it exists; the trend
chart uploaded into the thread once; and the outcome in words for the operator when the claim
is held elsewhere, was done already, or the post failed (and whether it will be tried again).

:class:`handlers.report_jobs.ReportJobs` claims, builds the messages and calls these.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from billing.job_claims import Claim, JobClaims, JobStatus
from billing.report_facts import DIGEST_JOB, DigestFacts, TrendPoint
from billing.views import AccountView
from handlers.slack_posting import SlackPoster, SlackPostFailed
from handlers.views.digest import chart_alt_text
from handlers.views.text import Message

logger = logging.getLogger(__name__)

#: ``render_chart(trend, title)``: the PNG of seats vs users per product, or ``None``.
ChartRenderer = Callable[[Sequence[TrendPoint], str], bytes]


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
    ``chart`` renders the trend PNG (``None``: no chart); ``clock`` returns an aware UTC instant.
    """

    def __init__(
        self,
        *,
        claims: JobClaims,
        poster: SlackPoster | None,
        chart: ChartRenderer | None,
        clock: Callable[[], datetime],
    ) -> None:
        self._claims = claims
        self._poster = poster
        self._chart = chart
        self._clock = clock

    def require_poster(self) -> SlackPoster:
        """The Slack poster; :class:`SlackPostFailed` when Slack is not configured."""
        if self._poster is None:
            raise SlackPostFailed(
                "Slack is not configured (SLACK_BOT_TOKEN, or SLACK_CLIENT_ID and "
                "SLACK_CLIENT_SECRET with the app installed), so nothing can be posted."
            )
        return self._poster

    async def post_parts(
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
        poster = self.require_poster()
        channel = report_channel(account)
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
                self._claims.progress, claim, channel_id=channel, message_ts=first, **extra
            )
            if not kept:
                raise ClaimLost(claim.run_key)
        return posted

    async def upload_chart(
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
            report_channel(account),
            thread_ts=thread_ts,
            filename=f"seat-trend-{account.name}-{facts.run.local_date.isoformat()}.png",
            content=png,
            title=f"Seats vs users, last 30 days · {account.display_name}",
            alt_text=chart_alt_text(facts),
        )
        await asyncio.to_thread(self._claims.progress, claim, chart_file_id=file_id)
        return file_id

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
