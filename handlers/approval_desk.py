"""Approval at the Slack edge: Approve and Deny for approvers, and the messages a decision
sends — the approvers' announcements when a change is submitted, every one of them stamped with
the outcome, and the requester told by DM.

Like :mod:`handlers.seat_desk`, it only calls billing (:mod:`billing.approvals.service`) and
renders; who may decide, and whether the figures still hold, are billing's decisions.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from slack_sdk.errors import SlackApiError
from slack_sdk.models.views import View
from slack_sdk.web.async_client import AsyncWebClient

from billing.access import Caller
from billing.approvals import AnswerPlace, Approvals, ClickedMessage
from billing.errors import REQUEST_GONE, NotFound, UserFacingError
from billing.seats import (
    AlreadyApplied,
    AwaitingApproval,
    ChangeApplied,
    ChangeCancelled,
    ChangeClosed,
    ChangeDenied,
    ChangeOutcome,
    Concluded,
    MessageRef,
    UsersNeeded,
)
from billing.views import AccountView
from handlers import views
from handlers.facts import PlatformFacts
from handlers.home_desk import HomeDesk
from handlers.payloads import RequestRef, request_ref, request_ref_value
from handlers.slack_posting import NOT_IN_CHANNEL
from handlers.views import Message
from handlers.views.approvals import (
    already_decided_message,
    approval_request_message,
    approvals_channel_notice,
    deny_form,
    requester_notice,
    stamped_message,
)

logger = logging.getLogger(__name__)

CHANGED_MEANWHILE = "The account changed while Seatbot was checking it; try again."


class Aftermath:
    """The messages an outcome sends besides the reply to whoever clicked."""

    def __init__(
        self,
        approvals: Approvals,
        clock: Callable[[], Any],
        home: HomeDesk | None = None,
    ) -> None:
        self._approvals = approvals
        self._clock = clock
        self._home = home

    def _where(self, account: AccountView) -> ZoneInfo:
        return ZoneInfo(account.timezone)

    async def handle(self, outcome: object, client: AsyncWebClient | None) -> None:
        """Announce a submission, or stamp and report a decision. Failures are logged: the
        person who clicked already has their answer, and reminders announce again."""
        if client is None:
            return
        try:
            if isinstance(outcome, AwaitingApproval):
                await self._announce(outcome, client)
            elif isinstance(outcome, Concluded):
                await self._settle(outcome, client)
        except SlackApiError as exc:
            logger.warning(
                "Could not send the approval messages of a seat change (%s)",
                exc.response.get("error"),
            )
        if self._home is not None and isinstance(outcome, AwaitingApproval | Concluded):
            request = outcome.request
            if request.submitted_at is not None or isinstance(outcome, AwaitingApproval):
                # What their App Home shows changed: the requester's and the approvers'.
                people = [Caller(request.requested_by_team, request.requested_by_user)]
                people += [Caller(team, user) for team, user in request.approvers]
                await self._home.refresh(people, client)

    async def _announce(self, outcome: AwaitingApproval, client: AsyncWebClient) -> None:
        """The card to each approver and to the approvals channel. Each post stands alone: one
        that fails is logged and the others still go, and every one that landed is recorded (the
        decision stamps it). A channel the bot is not in is told to the requester, and the card
        goes there with the next reminder once the bot is invited."""
        note = approval_request_message(
            outcome.account,
            outcome.request,
            self._where(outcome.account),
            check=outcome.check,
            expires_at=outcome.expires_at,
        )
        team, request_id = outcome.request.requested_by_team, outcome.request.id
        targets: list[tuple[str, str | None]] = [(user, user) for user in outcome.approvers]
        if outcome.channel_id:
            targets.append((outcome.channel_id, None))
        posted: list[MessageRef] = []
        for channel, recipient in targets:
            try:
                sent = await client.chat_postMessage(
                    channel=channel, text=note.text, blocks=note.blocks
                )
            except SlackApiError as exc:
                code = str(exc.response.get("error"))
                logger.warning(
                    "Could not post approval request %s to %s (%s)", request_id, channel, code
                )
                if recipient is None and code in NOT_IN_CHANNEL:
                    await self._tell_requester(outcome, channel, client)
                continue
            posted.append(MessageRef(team, str(sent["channel"]), str(sent["ts"]), recipient))
        await asyncio.to_thread(self._approvals.record_messages, request_id, posted, self._clock())

    async def _tell_requester(
        self, outcome: AwaitingApproval, channel_id: str, client: AsyncWebClient
    ) -> None:
        notice = approvals_channel_notice(outcome.account, channel_id)
        try:
            await client.chat_postMessage(
                channel=outcome.request.requested_by_user, text=notice.text, blocks=notice.blocks
            )
        except SlackApiError as exc:
            logger.warning("Could not tell the requester (%s)", exc.response.get("error"))

    async def _settle(self, outcome: Concluded, client: AsyncWebClient) -> None:
        account, request, stamps = outcome.account, outcome.request, outcome.stamps
        if not stamps and request.submitted_at is None:
            return  # a change without approval: nobody else to tell
        where = self._where(account)
        stamped = stamped_message(account, request, where)
        for ref in stamps:
            await client.chat_update(
                channel=ref.channel_id, ts=ref.ts, text=stamped.text, blocks=stamped.blocks
            )
        # The requester is told, unless they did it themselves (their click has its answer).
        match outcome:
            case ChangeApplied(confirmed_by=who) | ChangeDenied(denied_by=who):
                acted: str | None = who
            case ChangeCancelled(cancelled_by=who):
                acted = who
            case _:
                acted = request.decided_by_user
        if request.submitted_at is not None and acted != request.requested_by_user:
            notice = requester_notice(account, request, where)
            await client.chat_postMessage(
                channel=request.requested_by_user, text=notice.text, blocks=notice.blocks
            )


@dataclass(frozen=True, slots=True)
class ClickAnswer:
    """The answer to a click on an approval message, and whether it replaces that message
    (``in_place``) or goes to the clicker alone."""

    message: Message
    in_place: bool


class ApprovalDesk:
    """Approve and Deny, as the Slack edge offers them."""

    def __init__(
        self,
        approvals: Approvals,
        facts: PlatformFacts,
        aftermath: Aftermath,
        *,
        clock: Callable[[], Any],
    ) -> None:
        self._approvals = approvals
        self._facts = facts
        self._aftermath = aftermath
        self._clock = clock

    def _where(self, account: AccountView) -> ZoneInfo:
        return ZoneInfo(account.timezone)

    async def approve(
        self, caller: Caller, value: object, client: AsyncWebClient | None = None
    ) -> Message:
        """Approve exactly the figures the clicked message shows, once."""
        answer = await self.approve_quietly(caller, value, client, quiet=False)
        if answer is None:  # only a quiet approval answers nothing
            raise UserFacingError(CHANGED_MEANWHILE)
        return answer

    async def approve_clicked(
        self,
        caller: Caller,
        value: object,
        clicked: ClickedMessage | None,
        client: AsyncWebClient | None = None,
    ) -> ClickAnswer:
        """:meth:`approve`, clicked on the message ``clicked``. Billing says where the answer
        goes: in place of the approver's own DM, or to them alone on a shared post (the
        approvals channel's, which only the decision's stamp changes)."""
        ref = request_ref(value)
        place = await asyncio.to_thread(
            self._approvals.where_to_answer,
            caller,
            request_id=ref.request_id if ref is not None else None,
            clicked=clicked,
        )
        try:
            message = await self.approve(caller, value, client)
        except UserFacingError as exc:
            message = views.error_message(exc)
        return ClickAnswer(message, in_place=place is AnswerPlace.IN_PLACE)

    async def approve_quietly(
        self, caller: Caller, value: object, client: AsyncWebClient | None, *, quiet: bool = True
    ) -> Message | None:
        """:meth:`approve`, answering nothing when it applied (``quiet``: on the App Home, the
        refreshed tab and the stamped messages say it)."""
        ref = _ref(value)
        outcome = await asyncio.to_thread(
            self._approvals.approve,
            caller,
            request_id=ref.request_id,
            revision=ref.revision,
            at=self._clock(),
            users=self._facts.port(),
        )
        if isinstance(outcome, UsersNeeded):  # given the port, billing asks it instead
            raise TypeError("the approval use case asked for users it was given a port for")
        await self._aftermath.handle(outcome, client)
        if quiet and isinstance(outcome, ChangeApplied):
            return None
        return self._reply(outcome)

    async def deny_form(self, caller: Caller, value: object) -> View:
        """The form asking the approver why (only for someone who may deny it)."""
        ref = _ref(value)
        prompt = await asyncio.to_thread(
            self._approvals.deny_form, caller, request_id=ref.request_id, at=self._clock()
        )
        return deny_form(request_ref_value(ref.request_id, ref.revision), prompt.request)

    async def deny(
        self, caller: Caller, metadata: object, reason: str, client: AsyncWebClient | None = None
    ) -> Message | None:
        """Deny the request the form names, for ``reason``; stamp and tell the requester.
        ``None`` when denied (the stamps say so); otherwise what to tell the approver."""
        ref = _ref(metadata)
        outcome = await asyncio.to_thread(
            self._approvals.deny,
            caller,
            request_id=ref.request_id,
            reason=reason,
            at=self._clock(),
        )
        await self._aftermath.handle(outcome, client)
        return None if isinstance(outcome, ChangeDenied) else self._reply(outcome)

    def _reply(self, outcome: ChangeOutcome) -> Message:
        where = self._where(outcome.account)
        if isinstance(outcome, AlreadyApplied | ChangeClosed):
            return already_decided_message(outcome.request, where)
        return views.outcome_message(outcome, where)


def _ref(value: object) -> RequestRef:
    ref = request_ref(value)
    if ref is None:
        raise NotFound(REQUEST_GONE)
    return ref


__all__ = ["Aftermath", "ApprovalDesk", "ClickAnswer"]
