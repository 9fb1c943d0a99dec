"""Posting reports to Slack: messages, updates and file uploads, paced and retried.

:class:`SlackPoster` sends through the account's workspace client (``client_for(team_id)``),
waits its turn with :class:`handlers.slack_pacing.SlackPacing`, obeys ``Retry-After`` on 429
and retries a failed connection a few times. What still fails is raised as
:class:`SlackPostFailed` with a sentence for the operator (never a token), so the job that
posts records it and tries again later: nothing is dropped silently.

Files use Slack's current upload flow (``files_upload_v2``: ``files.getUploadURLExternal``, the
upload itself, ``files.completeUploadExternal``), shared into a thread.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from billing.errors import SeatbotError
from handlers.slack_pacing import SlackPacing
from handlers.views.text import Message

logger = logging.getLogger(__name__)

#: ``client_for(team_id)``: the Web API client of a workspace, or ``None`` when Seatbot has no
#: token for it.
ClientFor = Callable[[str], Awaitable[AsyncWebClient | None]]

#: How often one call is tried (429s and dropped connections) before it is reported failed.
MAX_ATTEMPTS = 6
#: Wait after a dropped connection (doubled each time).
RECONNECT_BACKOFF_S = 0.5
#: The longest ``Retry-After`` obeyed in place; longer, the post fails now and is retried later.
MAX_RETRY_AFTER_S = 120.0


class SlackPostFailed(SeatbotError):
    """A post could not be made; ``message`` says why, in words for the operator."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


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

    async def post(
        self, team_id: str, channel_id: str, message: Message, *, thread_ts: str | None = None
    ) -> str:
        """Post ``message`` (in the thread of ``thread_ts`` when given); returns its ``ts``."""
        _, ts = await self.post_where(team_id, channel_id, message, thread_ts=thread_ts)
        return ts

    async def post_where(
        self, team_id: str, channel_id: str, message: Message, *, thread_ts: str | None = None
    ) -> tuple[str, str]:
        """:meth:`post`, returning the channel it landed in as well (posting to a user id lands
        in their direct-message channel) and its ``ts``."""
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
                f"Seatbot has no Slack token for workspace {team_id}; install the app there "
                "(or set SLACK_BOT_TOKEN for a single workspace)."
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
                    raise SlackPostFailed(
                        f"Slack refused {method.replace('_', '.', 1)} in {channel_id}: "
                        f"{code or 'an error'}"
                    ) from None
                self.stats.rate_limited += 1
                wait = _retry_after(error.response.headers if error.response else {})
                if wait > MAX_RETRY_AFTER_S:
                    raise SlackPostFailed(
                        f"Slack asked Seatbot to wait {wait:.0f} s before posting to "
                        f"{channel_id}; it will try again later."
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
            f"Slack did not accept the post to {channel_id} after {self._max_attempts} tries; "
            "it will be tried again later."
        )


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
