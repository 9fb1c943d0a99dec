"""What time does to pending approvals, as a scheduled job body: remind the approvers, escalate,
expire — each step claimed in the database first, so it happens once however many replicas run
the scheduler.

Billing decides what is due (:meth:`billing.approvals.service.Approvals.due`) and moves the
requests; this module claims each step (:class:`billing.jobs.store.JobClaims`), posts the messages
and
stamps the old ones.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from billing.approvals.rules import DueStep
from billing.approvals.service import Approvals, DueItem, PostedMessage
from billing.jobs.store import JobClaims
from billing.seats.outcomes import ApprovalPrompt
from billing.views import AccountView
from handlers.slack_posting import SlackPoster
from handlers.views import Locale
from handlers.views.approvals import approval_request_message, requester_notice, stamped_message

logger = logging.getLogger(__name__)

#: The job name each step is claimed under (``job_runs.job_name``); the run key is the request.
JOB_NAMES = {
    DueStep.REMIND: "approval.remind",
    DueStep.ESCALATE: "approval.escalate",
    DueStep.EXPIRE: "approval.expire",
}


class ApprovalJobs:
    """The approvals' scheduled work; :meth:`tick` runs every due step once."""

    def __init__(
        self,
        approvals: Approvals,
        claims: JobClaims,
        poster: SlackPoster | None,
        *,
        clock: Callable[[], datetime],
        locale: str = "en_US",
        on_change: Callable[[int], Awaitable[None]] | None = None,
    ) -> None:
        self._approvals = approvals
        self._claims = claims
        self._poster = poster
        self._clock = clock
        self._locale = locale
        self._on_change = on_change

    async def tick(self) -> int:
        """Run every step due now that no replica has claimed; returns how many ran."""
        now = self._clock()
        due = await asyncio.to_thread(self._approvals.due, now)
        done = 0
        for item in due:
            if await self._run(item, now):
                done += 1
        return done

    async def _run(self, item: DueItem, now: datetime) -> bool:
        claim = await asyncio.to_thread(
            self._claims.claim,
            JOB_NAMES[item.step],
            str(item.request_id),
            scheduled_for=item.due_at,
            at=now,
        )
        if claim is None:
            return False  # another replica has it, or it is done
        try:
            if item.step is DueStep.REMIND:
                await self._remind(item.request_id)
            elif item.step is DueStep.ESCALATE:
                await self._escalate(item.request_id, now)
            else:
                await self._expire(item.request_id, now)
        except Exception as error:
            await asyncio.to_thread(
                self._claims.fail, claim, at=self._clock(), error=type(error).__name__
            )
            logger.warning(
                "Approval step %s of request %s failed (%s); it will be retried",
                item.step.value,
                item.request_id,
                type(error).__name__,
            )
            return False
        await asyncio.to_thread(self._claims.succeed, claim, at=self._clock())
        if self._on_change is not None:
            await self._on_change(item.request_id)
        return True

    def _where(self, account: AccountView) -> Locale:
        return Locale(self._locale, ZoneInfo(account.timezone))

    async def _remind(self, request_id: int) -> None:
        prompt = await asyncio.to_thread(self._approvals.reminder, request_id)
        if prompt is None:
            return
        people = [user for team, user in prompt.request.approvers]
        await self._send(prompt, people, "Reminder — approval needed")

    async def _escalate(self, request_id: int, now: datetime) -> None:
        escalated = await asyncio.to_thread(self._approvals.escalate, request_id, now)
        if escalated is None:
            return
        prompt, people = escalated
        await self._send(
            prompt, [user for team, user in people], "Escalated to you — approval needed"
        )

    async def _send(self, prompt: ApprovalPrompt, users: list[str], headline: str) -> None:
        """Each of ``users`` gets the request with Approve / Deny; the messages are recorded so
        the decision stamps them too."""
        if self._poster is None:
            return
        team = prompt.request.requested_by_team
        note = approval_request_message(
            prompt.account,
            prompt.request,
            self._where(prompt.account),
            note=prompt.note,
            headline=headline,
        )
        posted: list[PostedMessage] = []
        for user in users:
            channel, ts = await self._poster.post_where(team, user, note)
            posted.append(PostedMessage(team, channel, ts, recipient=user))
        await asyncio.to_thread(
            self._approvals.record_messages, prompt.request.id, posted, self._clock()
        )

    async def _expire(self, request_id: int, now: datetime) -> None:
        closed = await asyncio.to_thread(self._approvals.expire, request_id, now)
        if closed is None or self._poster is None:
            return
        request, account = closed.request, closed.account
        where = self._where(account)
        team = request.requested_by_team
        stamped = stamped_message(account, request, where)
        for ref in closed.stamps:
            await self._poster.update(ref.team_id, ref.channel_id, ref.ts, stamped)
        if request.submitted_at is not None:
            await self._poster.post(
                team, request.requested_by_user, requester_notice(account, request, where)
            )
