"""Posting a report under its claim: the steps every posted run shares (use cases, run by the
edge as :mod:`billing.jobs.ports` describes).

The claim is kept alive while the edge works, so a live process slow in Slack is never taken for
a dead one. Before each part the claim is renewed, which says whether it is still held and what
the run has recorded by now (another process may have posted parts since); a recorded part is
updated, never posted again; a part posted is recorded at once, even when the claim was taken
over meanwhile, so whoever holds the run resumes after it (:func:`billing.jobs.rules.with_posted`).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from billing.errors import UserFacingError
from billing.jobs.ports import (
    KeepClaim,
    NotInChannel,
    Post,
    PostFailed,
    Render,
    Steps,
    Update,
    Upload,
)
from billing.jobs.rules import (
    CHANNEL_RETRY_EVERY,
    WAITING_FOR_CHANNEL,
    Claim,
    ClaimLost,
    JobRunView,
    JobStatus,
    PostOutcome,
    failed,
    no_channel,
    not_claimed,
    posted_part,
    waiting_for_channel,
)
from billing.jobs.store import JobClaims
from billing.views import AccountView

#: The run's detail key of its uploaded chart's file id.
CHART = "chart_file_id"


@dataclass(frozen=True)
class ChannelNotice:
    """What an account's owners are told (by DM) when ``what`` cannot be posted because the bot
    is not in ``channel_id``; it is tried again every ``retry_minutes``."""

    account: AccountView
    channel_id: str
    what: str
    retry_minutes: int


def failure_reason(error: Exception) -> str:
    """What a run records about ``error``, the scheduled work's one mapping of the error tree:
    an expected error (a post Slack refused, a platform that did not answer) in its own words;
    anything else as an internal error with a reference, the error itself going to the log
    (``PostOutcome.cause``, :func:`bot.runtime.steps.log_outcome`)."""
    if isinstance(error, UserFacingError):
        return error.message
    return f"internal error (reference {secrets.token_hex(4)}); see the log"


class ClaimedPosts:
    """Runs posted once, under their claim. ``clock`` returns an aware UTC instant."""

    def __init__(self, claims: JobClaims, clock: Callable[[], datetime]) -> None:
        self.claims = claims
        self._clock = clock

    def start(
        self,
        job: str,
        run_key: str,
        account: AccountView,
        what: str,
        *,
        scheduled_for: datetime | None = None,
        force: bool = False,
    ) -> Claim | PostOutcome:
        """Claim ``job``'s run ``run_key`` for ``account`` (due at ``scheduled_for``, else now;
        ``force`` redoes one done), or the outcome saying why not."""
        if account.channel_id is None:
            return no_channel(account.name, job, run_key)
        now = self._clock()
        claim = self.claims.claim(
            job,
            run_key,
            scheduled_for=scheduled_for or now,
            at=now,
            account_id=account.id,
            force=force,
        )
        if claim is None:
            return not_claimed(account.name, job, run_key, what, self.claims.find(job, run_key))
        return claim

    def run(
        self, claim: Claim, account: AccountView, what: str, body: Steps[PostOutcome]
    ) -> Steps[PostOutcome]:
        """``body`` under ``claim``, every way it can end told as an outcome: taken over (stop),
        anything else a failure (:func:`failure_reason`), to be retried."""
        yield KeepClaim(claim)
        try:
            return (yield from body)
        except ClaimLost as lost:
            taken = "taken_over"
            return PostOutcome(account.name, claim.job_name, claim.run_key, taken, lost.message)
        except NotInChannel as closed:
            return (yield from self._wait_for_channel(claim, account, what, closed))
        except Exception as error:  # the run fails; the edge logs the cause
            return replace(self._fail(claim, account, what, failure_reason(error)), cause=error)

    def _wait_for_channel(
        self, claim: Claim, account: AccountView, what: str, closed: NotInChannel
    ) -> Steps[PostOutcome]:
        """The bot is not in the channel: the first time, tell the account's owners by DM (one
        each); record the run as waiting to be invited, so it is tried again without end."""
        first = not claim.detail.get(WAITING_FOR_CHANNEL)
        told = 0
        if first:
            minutes = int(CHANNEL_RETRY_EVERY.total_seconds() // 60)
            view = ChannelNotice(account, closed.channel_id, what, minutes)
            notice = (yield Render(view))[0]
            for team_id, user_id in self.claims.owners(account.id):
                try:
                    yield Post(team_id, user_id, notice)
                except PostFailed:
                    continue  # this owner cannot be reached; the others are still told
                told += 1
        detail = {WAITING_FOR_CHANNEL: True}
        self.claims.fail(claim, at=self._clock(), error=closed.message, **detail)
        return waiting_for_channel(
            account.name, claim, what, closed.message, first=first, told=told
        )

    def _fail(self, claim: Claim, account: AccountView, what: str, reason: str) -> PostOutcome:
        self.claims.fail(claim, at=self._clock(), error=reason)
        return failed(account.name, claim, what, reason, max_attempts=self.claims.max_attempts)

    def held(self, claim: Claim) -> JobRunView:
        """Renew ``claim``: the run as recorded now, or :class:`ClaimLost`."""
        run = self.claims.renew(claim, at=self._clock())
        if run is None:
            raise ClaimLost
        return run

    def record(
        self, claim: Claim, account: AccountView, key: str, posted: str, index: int | None = None
    ) -> str:
        """Record ``posted`` under the run, held or not; what the run keeps for that part (the
        first recorded), or :class:`ClaimLost` once it is recorded."""
        result = self.claims.record_posted(
            claim, key, posted, index=index, channel_id=account.channel_id
        )
        if not result.held:
            raise ClaimLost
        return result.recorded

    def post_parts(
        self,
        claim: Claim,
        account: AccountView,
        messages: Sequence[object],
        key: str,
        *,
        thread_ts: str | None = None,
    ) -> Steps[list[str]]:
        """Post ``messages`` in order under ``key`` (updating those recorded already), each
        recorded as soon as it exists; their ts, in order."""
        team, channel = account.team_id, report_channel(account)
        posted: list[str] = []
        for index, message in enumerate(messages):
            run = self.held(claim)
            ts = posted_part(run.detail, key, index, message_ts=run.message_ts)
            if ts is not None:
                yield Update(team, channel, ts, message)
            else:
                _, new = yield Post(team, channel, message, thread_ts)
                ts = self.record(claim, account, key, new, index)
            posted.append(ts)
        return posted

    def upload_once(
        self, claim: Claim, account: AccountView, chart: object, thread_ts: str
    ) -> Steps[str | None]:
        """Upload ``chart`` into the thread of ``thread_ts``, once per run (never again once
        one is recorded); its file id."""
        uploaded = posted_part(self.held(claim).detail, CHART)
        if uploaded is not None:
            return uploaded
        file_id = yield Upload(account.team_id, report_channel(account), thread_ts, chart)
        return None if file_id is None else self.record(claim, account, CHART, file_id)

    def finish(
        self,
        claim: Claim,
        account: AccountView,
        what: str,
        posted: Sequence[str],
        *,
        chart_file_id: str | None = None,
    ) -> PostOutcome:
        """Mark the run done (:class:`ClaimLost` when it was taken over meanwhile): ``posted``
        (its messages' ts) is what the outcome says."""
        if not self.claims.succeed(claim, at=self._clock()):
            raise ClaimLost
        verb = "updated" if claim.previous_status is JobStatus.SUCCEEDED else "posted"
        late = " (late)" if claim.late else ""
        count = f"{len(posted)} message{'s' if len(posted) != 1 else ''}"
        chart = ", with the trend chart" if chart_file_id else ""
        return PostOutcome(
            account.name,
            claim.job_name,
            claim.run_key,
            verb,
            f"{what} {verb}{late} in {account.channel_id} ({count}{chart})",
            late=claim.late,
            message_ts=posted[0] if posted else None,
            chart_file_id=chart_file_id,
            messages=len(posted),
        )


def report_channel(account: AccountView) -> str:
    """The account's own channel, where its reports go (and only they)."""
    if account.channel_id is None:
        raise PostFailed(f"{account.name} has no slack.channel_id")
    return account.channel_id
