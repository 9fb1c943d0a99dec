"""Telling an account's owners, in Slack, that a billing event could not be delivered.

One direct message to each owner (``chat.postMessage`` to their user id opens the DM), with
the workspace's bot token: ``SLACK_BOT_TOKEN`` for a single workspace, or the installation's
token from the OAuth installation store. The outbox makes sure only one process sends the
notice (:meth:`billing.events.service.Outbox.claim_notice`); a failed post is logged, not
retried. The message names the event and how to send it again; never a URL or a secret.
"""

from __future__ import annotations

import logging

from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from slack_sdk.web.async_client import AsyncWebClient

from billing.events import FailureNotice
from handlers.views.text import escape

logger = logging.getLogger(__name__)


def failure_text(notice: FailureNotice) -> str:
    """The direct message about ``notice``'s event (Slack mrkdwn; the account's name and the
    receiver's answer escaped, as everything a view shows)."""
    what = f"`{notice.event_type}`"
    if notice.request_id is not None:
        what += f" (seat change {notice.request_id})"
    reason = f" The last attempt: {escape(notice.last_error)}." if notice.last_error else ""
    return (
        f":warning: Seatbot could not hand a billing event over to your billing system: "
        f"{what} for *{escape(notice.account_display_name)}* failed {notice.attempts} time(s) "
        f"and will not be tried again.{reason} The change itself is recorded in Seatbot's "
        f"ledger. Once "
        f"the billing system accepts events again, your operator can send it with "
        f"`seatbot webhooks retry {notice.event_id}` (webhook-id `{notice.webhook_id}`)."
    )


class OwnerNotifier:
    """Sends :func:`failure_text` to each owner of the account, over the Slack Web API at
    ``api_url``."""

    def __init__(
        self,
        *,
        api_url: str,
        bot_token: str | None = None,
        installation_store: AsyncInstallationStore | None = None,
    ) -> None:
        self._api_url = api_url
        self._bot_token = bot_token
        self._installations = installation_store

    async def _token(self, team_id: str) -> str | None:
        if self._bot_token is not None:
            return self._bot_token
        if self._installations is None:
            return None
        bot = await self._installations.async_find_bot(enterprise_id=None, team_id=team_id)
        return None if bot is None else bot.bot_token

    async def notify(self, notice: FailureNotice) -> int:
        """Message every owner; how many messages Slack accepted."""
        text = failure_text(notice)
        told = 0
        for team_id, user_id in notice.owners:
            token = await self._token(team_id)
            if not token:
                logger.warning(
                    "Cannot tell owner %s of account %s about failed event %s: no bot token "
                    "for workspace %s",
                    user_id,
                    notice.account_name,
                    notice.event_id,
                    team_id,
                )
                continue
            client = AsyncWebClient(token=token, base_url=self._api_url)
            try:
                await client.chat_postMessage(channel=user_id, text=text)
            except SlackApiError as error:
                logger.warning(
                    "Slack refused the notice to owner %s of account %s about event %s (%s)",
                    user_id,
                    notice.account_name,
                    notice.event_id,
                    error.response.get("error", "unknown error"),
                )
            except (SlackClientError, OSError) as error:
                logger.warning(
                    "Could not reach Slack to tell owner %s of account %s about event %s (%s)",
                    user_id,
                    notice.account_name,
                    notice.event_id,
                    type(error).__name__,
                )
            else:
                told += 1
        if not notice.owners:
            logger.warning(
                "Event %s of account %s failed and the account has no owner to tell",
                notice.event_id,
                notice.account_name,
            )
        return told
