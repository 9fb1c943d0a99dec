"""What time does to pending approvals, as a scheduled use case: remind the approvers, escalate,
expire — each step claimed in the database first, so it happens once however many replicas run
the scheduler (run by the edge, as :mod:`billing.jobs.ports` describes).

What is due and what each step changes is :class:`billing.approvals.service.Approvals`' (``due``,
``reminder``, ``escalate``, ``expire``); this claims each step, asks the edge to send the
messages, records where they landed (so the decision stamps them too), and stamps the old ones
when a request expires.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from billing.approvals.rules import DueStep
from billing.approvals.schedule import DueItem
from billing.approvals.service import Approvals
from billing.jobs.ports import NotInChannel, Post, Render, Steps, Update
from billing.jobs.rules import PostOutcome
from billing.jobs.service import failure_reason
from billing.jobs.store import JobClaims
from billing.seats.outcomes import ApprovalPrompt, ChangeEnded, MessageRef

#: The job name each step is claimed under (``job_runs.job_name``); the run key is the request.
JOB_NAMES = {
    DueStep.REMIND: "approval.remind",
    DueStep.ESCALATE: "approval.escalate",
    DueStep.EXPIRE: "approval.expire",
}


@dataclass(frozen=True)
class ApprovalNote:
    """The request with Approve / Deny, under ``headline``, for its deciders."""

    prompt: ApprovalPrompt
    headline: str


@dataclass(frozen=True)
class RequesterNotice:
    """What the requester is told of how their request ended (the :class:`ChangeEnded` itself
    is shown as the messages about the request, stamped with how it ended)."""

    ended: ChangeEnded


class ApprovalReminders:
    """The approvals' scheduled work (see the module docstring). ``clock`` returns an aware UTC
    instant."""

    def __init__(
        self, approvals: Approvals, claims: JobClaims, clock: Callable[[], datetime]
    ) -> None:
        self._approvals = approvals
        self._claims = claims
        self._clock = clock

    def due(self, at: datetime) -> list[DueItem]:
        """Every step due at ``at`` (some may be claimed already: :meth:`run` finds out)."""
        return self._approvals.due(at)

    def run(self, item: DueItem, at: datetime) -> Steps[PostOutcome | None]:
        """Do ``item`` once: ``None`` when another replica has it or it is done; otherwise the
        outcome (``done``, or ``failed``: tried again on a later tick)."""
        job, key = JOB_NAMES[item.step], str(item.request_id)
        claim = self._claims.claim(job, key, scheduled_for=item.due_at, at=at)
        if claim is None:
            return None
        try:
            if item.step is DueStep.REMIND:
                prompt = self._approvals.reminder(item.request_id)
                if prompt is not None:
                    deciders = [user for _, user in prompt.request.approvers]
                    yield from self._send(prompt, deciders, "Reminder — approval needed")
                    yield from self._post_in_channel(prompt)
            elif item.step is DueStep.ESCALATE:
                escalated = self._approvals.escalate(item.request_id, at)
                if escalated is not None:
                    prompt, people = escalated
                    users = [user for _, user in people]
                    yield from self._send(prompt, users, "Escalated to you — approval needed")
                    yield from self._post_in_channel(prompt)
            else:
                closed = self._approvals.expire(item.request_id, at)
                if closed is not None:
                    yield from self._stamp(closed)
        except Exception as error:  # recorded; the edge logs it, a later tick tries again
            reason = failure_reason(error)
            self._claims.fail(claim, at=self._clock(), error=reason)
            detail = f"{job} of request {key} failed ({reason}); it will be retried"
            return PostOutcome("", job, key, "failed", detail, cause=error)
        self._claims.succeed(claim, at=self._clock())
        return PostOutcome("", job, key, "done", f"{job} of request {key} done")

    def _send(self, prompt: ApprovalPrompt, users: Sequence[str], headline: str) -> Steps[None]:
        """Each of ``users`` gets the request with Approve / Deny: in the thread of the card
        they already have, else as a new message; where each landed is recorded, so the
        decision stamps it too."""
        team = prompt.request.requested_by_team
        [note] = yield Render(ApprovalNote(prompt, headline))
        cards = self._approvals.cards(prompt.request.id)
        posted = []
        for user in users:
            card = cards.get(user)
            if card is None:
                channel, ts = yield Post(team, user, note)
            else:
                channel, ts = yield Post(team, card.channel_id, note, thread_ts=card.ts)
            posted.append(MessageRef(team, channel, ts, recipient=user))
        self._approvals.record_messages(prompt.request.id, posted, self._clock())

    def _post_in_channel(self, prompt: ApprovalPrompt) -> Steps[None]:
        """The card the approvals channel never got (the bot was not in it when the request was
        announced; the requester was told then): posted with the reminder once the bot is
        invited (a reminder's or an escalation's). Still not in it: the deciders have theirs, the
        channel waits for the next."""
        request, channel_id = prompt.request, prompt.unposted_channel
        if channel_id is None:
            return
        [card] = yield Render(ApprovalNote(prompt, "Approval needed"))
        try:
            channel, ts = yield Post(request.requested_by_team, channel_id, card)
        except NotInChannel:
            return
        posted = [MessageRef(request.requested_by_team, channel, ts)]
        self._approvals.record_messages(request.id, posted, self._clock())

    def _stamp(self, closed: ChangeEnded) -> Steps[None]:
        """Stamp every message about the expired request; tell the requester once it had been
        submitted."""
        [stamped] = yield Render(closed)
        for ref in closed.stamps:
            yield Update(ref.team_id, ref.channel_id, ref.ts, stamped)
        request = closed.request
        if request.submitted_at is not None:
            [notice] = yield Render(RequesterNotice(closed))
            yield Post(request.requested_by_team, request.requested_by_user, notice)
