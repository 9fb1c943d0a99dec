"""Posting scheduled work to Slack: billing's posting port (:class:`billing.jobs.ports.Posting`)
as the Slack edge implements it, and the paced, retried sending under it.

:class:`SlackPosting` renders what billing's scheduled use cases ask to show with
``handlers.views`` (in the account's time zone), draws the trend chart, and sends
through :class:`SlackPoster`. That sends through the account's workspace client
(``client_for(team_id)``), waits its turn with :class:`handlers.slack_pacing.SlackPacing`, obeys
``Retry-After`` on 429 and retries a failed connection a few times. What still fails is raised as
:class:`SlackPostFailed` with a sentence for the operator (never a token), so the use case that
posts records it and tries again later: nothing is dropped silently.

Files use Slack's current upload flow (``files_upload_v2``: ``files.getUploadURLExternal``, the
upload itself, ``files.completeUploadExternal``), shared into a thread.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from slack_sdk.errors import SlackApiError, SlackClientError

from billing.approvals import ApprovalNote, RequesterNotice
from billing.jobs import ChannelNotice, NotInChannel, PostFailed
from billing.periods import zone
from billing.reports import (
    AccountReconciliation,
    DigestFacts,
    DigestView,
    HeldSeatsView,
    TrendPoint,
)
from billing.seats import ChangeEnded
from billing.views import AccountView
from handlers.slack_pacing import SlackPacing
from handlers.views.approvals import approval_request_message, requester_notice, stamped_message
from handlers.views.digest import (
    chart_alt_text,
    details_messages,
    digest_messages,
    reconciliation_messages,
)
from handlers.views.text import Message, escape, message, section

if TYPE_CHECKING:
    from slack_sdk.web.async_client import AsyncWebClient

logger = logging.getLogger(__name__)

#: ``client_for(team_id)``: the Web API client of a workspace, or ``None`` when Seatbot has no
#: token for it. (A string: slack_sdk's client, and aiohttp, load only where Slack is posted to.)
ClientFor = Callable[[str], Awaitable["AsyncWebClient | None"]]

#: How often one call is tried (429s and dropped connections) before it is reported failed.
MAX_ATTEMPTS = 6
#: Wait after a dropped connection (doubled each time).
RECONNECT_BACKOFF_S = 0.5
#: The longest ``Retry-After`` obeyed in place; longer, the post fails now and is retried later.
MAX_RETRY_AFTER_S = 120.0


#: Slack's answers meaning the bot is not in the channel (or cannot see it): only an invitation
#: fixes them (:class:`billing.jobs.ports.NotInChannel`).
NOT_IN_CHANNEL = frozenset({"not_in_channel", "channel_not_found"})

#: ``render_chart(trend, title)``: the PNG of seats vs users per product.
ChartRenderer = Callable[[Sequence[TrendPoint], str], bytes]


class SlackPostFailed(PostFailed):
    """A post could not be made; ``message`` says why, in words for the operator."""


@dataclass
class PostingStats:
    """What a poster did (for reports and benchmarks)."""

    calls: int = 0
    rate_limited: int = 0
    reconnects: int = 0


class SlackPoster:
    """Paced, retried posting (see the module docstring)."""

    def __init__(
        self,
        client_for: ClientFor,
        pacing: SlackPacing,
        *,
        max_attempts: int = MAX_ATTEMPTS,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._client_for = client_for
        self.pacing = pacing
        self._max_attempts = max_attempts
        self._sleep = sleep
        self.stats = PostingStats()

    async def post_where(
        self, team_id: str, channel_id: str, message: Message, *, thread_ts: str | None = None
    ) -> tuple[str, str]:
        """Post ``message`` (in the thread of ``thread_ts`` when given); the channel it landed in
        (posting to a user id lands in their direct-message channel) and its ``ts``."""
        arguments: dict[str, Any] = {
            "channel": channel_id,
            "text": message.text,
            "blocks": [block.to_dict() for block in message.blocks],
            "unfurl_links": False,
            "unfurl_media": False,
        }
        if thread_ts is not None:
            arguments["thread_ts"] = thread_ts
        response = await self._call(team_id, channel_id, "chat_postMessage", arguments)
        return str(response.get("channel") or channel_id), str(response["ts"])

    async def update(self, team_id: str, channel_id: str, ts: str, message: Message) -> None:
        """Replace the message at ``ts`` with ``message``."""
        arguments = {
            "channel": channel_id,
            "ts": ts,
            "text": message.text,
            "blocks": [block.to_dict() for block in message.blocks],
        }
        await self._call(team_id, channel_id, "chat_update", arguments)

    async def upload(
        self,
        team_id: str,
        channel_id: str,
        *,
        thread_ts: str,
        filename: str,
        content: bytes,
        title: str,
        alt_text: str,
    ) -> str:
        """Upload ``content`` as ``filename`` into the thread of ``thread_ts``; returns the
        file's id."""
        arguments = {
            "channel": channel_id,
            "thread_ts": thread_ts,
            "filename": filename,
            "content": content,
            "title": title,
            "alt_txt": alt_text,
        }
        response = await self._call(team_id, channel_id, "files_upload_v2", arguments)
        file = response.get("file") or {}
        return str(file.get("id") or "")

    async def _call(
        self, team_id: str, channel_id: str, method: str, arguments: dict[str, Any]
    ) -> Any:
        client = await self._client_for(team_id)
        if client is None:
            raise SlackPostFailed(
                f"Seatbot has no Slack token for workspace {team_id}: install the app there "
                "(or set SLACK_BOT_TOKEN for a single workspace)"
            )
        backoff = RECONNECT_BACKOFF_S
        for _ in range(self._max_attempts):
            await self.pacing.wait_turn(team_id, channel_id)
            self.stats.calls += 1
            try:
                return await getattr(client, method)(**arguments)
            except SlackApiError as error:
                status = getattr(error.response, "status_code", None)
                if status != 429:
                    code = error.response.get("error") if error.response is not None else None
                    if code in NOT_IN_CHANNEL:
                        raise NotInChannel(
                            f"Seatbot is not in channel {channel_id} ({code}): invite it there "
                            "with `/invite @Seatbot`",
                            channel_id,
                        ) from None
                    raise SlackPostFailed(
                        f"Slack refused {method.replace('_', '.', 1)} in {channel_id}: "
                        f"{code or 'an error'}"
                    ) from None
                self.stats.rate_limited += 1
                wait = _retry_after(error.response.headers if error.response else {})
                if wait > MAX_RETRY_AFTER_S:
                    raise SlackPostFailed(
                        f"Slack asked Seatbot to wait {wait:.0f} s before posting to {channel_id}"
                    ) from None
                logger.info("Slack rate limit in %s: waiting %.1f s", channel_id, wait)
                self.pacing.back_off(team_id, channel_id, wait)
            except (SlackClientError, OSError, TimeoutError) as error:
                self.stats.reconnects += 1
                logger.warning(
                    "Posting to %s failed (%s); trying again", channel_id, type(error).__name__
                )
                await self._sleep(backoff)
                backoff *= 2
        raise SlackPostFailed(
            f"Slack did not accept the post to {channel_id} after {self._max_attempts} tries"
        )


class SlackPosting:
    """Billing's posting port on Slack (see the module docstring). ``poster`` is ``None`` when
    Slack is not configured (then every post fails, saying so); ``chart`` draws the trend PNG
    (``None``: no chart)."""

    def __init__(
        self,
        poster: SlackPoster | None,
        *,
        chart: ChartRenderer | None = None,
    ) -> None:
        self.poster = poster
        self._chart = chart

    def render(self, view: object) -> list[object]:
        """The messages that show ``view`` (one of billing's scheduled work's views)."""
        messages: list[Message]
        match view:
            case DigestView(facts=facts, late_since=late):
                messages = digest_messages(facts, self._where(facts.account), late_since=late)
            case HeldSeatsView(run=run):
                messages = details_messages(run, self._where(run.account))
            case AccountReconciliation():
                messages = reconciliation_messages(view, self._where(view.account))
            case ApprovalNote(prompt=prompt, headline=headline):
                where = self._where(prompt.account)
                messages = [
                    approval_request_message(
                        prompt.account,
                        prompt.request,
                        where,
                        note=prompt.note,
                        headline=headline,
                        expires_at=prompt.expires_at,
                    )
                ]
            case ChangeEnded(account=account, request=request):
                messages = [stamped_message(account, request, self._where(account))]
            case RequesterNotice(ended=ended):
                where = self._where(ended.account)
                messages = [requester_notice(ended.account, ended.request, where)]
            case ChannelNotice():
                messages = [channel_notice(view)]
            case _:
                raise TypeError(f"nothing renders {type(view).__name__}")
        return list(messages)

    async def post(
        self, team_id: str, channel_id: str, message: object, *, thread_ts: str | None
    ) -> tuple[str, str]:
        sent = _message(message)
        return await self._sender().post_where(team_id, channel_id, sent, thread_ts=thread_ts)

    async def update(self, team_id: str, channel_id: str, ts: str, message: object) -> None:
        await self._sender().update(team_id, channel_id, ts, _message(message))

    async def upload(
        self, team_id: str, channel_id: str, *, thread_ts: str, chart: object
    ) -> str | None:
        if self._chart is None or not isinstance(chart, DigestFacts):
            return None
        facts, sender = chart, self._sender()
        account = facts.account
        title = f"{account.display_name}: seats vs users, last 30 days"
        png = await asyncio.to_thread(self._chart, facts.trend, title)
        return await sender.upload(
            team_id,
            channel_id,
            thread_ts=thread_ts,
            filename=f"seat-trend-{account.name}-{facts.run.local_date.isoformat()}.png",
            content=png,
            title=f"Seats vs users, last 30 days · {account.display_name}",
            alt_text=chart_alt_text(facts),
        )

    def _sender(self) -> SlackPoster:
        if self.poster is None:
            raise SlackPostFailed(
                "Slack is not configured (SLACK_BOT_TOKEN, or SLACK_CLIENT_ID and "
                "SLACK_CLIENT_SECRET with the app installed), so nothing can be posted"
            )
        return self.poster

    def _where(self, account: AccountView) -> ZoneInfo:
        return zone(account.timezone)


def channel_notice(notice: ChannelNotice) -> Message:
    """The DM to an account's owner: Seatbot cannot post in the account's channel until invited."""
    channel = notice.channel_id
    text = (
        f"I could not post the {notice.what} for {escape(notice.account.display_name)} in "
        f"<#{channel}>: I am not in that channel. Invite me there (type `/invite @Seatbot` in "
        f"<#{channel}>) and I will post it within {notice.retry_minutes} minutes."
    )
    return message(text, [section(text)])


def _message(message: object) -> Message:
    if not isinstance(message, Message):
        raise TypeError(f"not a message: {type(message).__name__}")
    return message


def _retry_after(headers: Any) -> float:
    """Seconds from a ``Retry-After`` header (1 when missing or unreadable)."""
    value = None
    try:
        value = headers.get("Retry-After") or headers.get("retry-after")
    except AttributeError:
        value = None
    if isinstance(value, list | tuple):
        value = value[0] if value else None
    try:
        return max(0.0, float(value)) if value is not None else 1.0
    except (TypeError, ValueError):
        return 1.0
