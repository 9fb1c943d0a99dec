"""The Slack Web API client of each workspace, for jobs that post without a request to answer.

With ``SLACK_BOT_TOKEN`` (one workspace) the token's workspace is learnt once with
``auth.test``, and only that workspace gets a client: an account of another workspace has no
token here, and its digest is reported as not postable rather than sent elsewhere; a token Slack
refuses (``invalid_auth``…) is reported as refused, not as missing. With OAuth
(``SLACK_CLIENT_ID``/``SLACK_CLIENT_SECRET``) each workspace's bot token comes from the
installation store. Clients share one aiohttp session, made inside the running loop and closed
with :meth:`SlackClients.aclose`.
"""

from __future__ import annotations

import asyncio
import logging

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from slack_sdk.web.async_client import AsyncWebClient

from billing.jobs import PostFailed

logger = logging.getLogger(__name__)


class SlackClients:
    """``await clients.client_for(team_id)``: that workspace's client, or ``None``."""

    def __init__(
        self,
        *,
        api_url: str,
        bot_token: str | None = None,
        installation_store: AsyncInstallationStore | None = None,
        timeout_s: int = 30,
    ) -> None:
        self._api_url = api_url
        self._bot_token = bot_token
        self._store = installation_store
        self._timeout_s = timeout_s
        self._session: aiohttp.ClientSession | None = None
        self._token_team: str | None = None
        self._clients: dict[str, AsyncWebClient] = {}
        self._lock = asyncio.Lock()

    def _client(self, token: str) -> AsyncWebClient:
        client = self._clients.get(token)
        if client is None:
            if self._session is None or self._session.closed:
                self._session = aiohttp.ClientSession()
            client = AsyncWebClient(
                token=token, base_url=self._api_url, session=self._session, timeout=self._timeout_s
            )
            self._clients[token] = client
        return client

    async def client_for(self, team_id: str) -> AsyncWebClient | None:
        """The client of workspace ``team_id``, or ``None`` when Seatbot has no token for it;
        :class:`PostFailed` saying so when Slack refuses ``SLACK_BOT_TOKEN`` or cannot be asked
        whose it is."""
        async with self._lock:
            if self._bot_token is not None:
                if self._token_team is None:
                    self._token_team = await self._token_workspace(self._bot_token)
                if self._token_team == team_id:
                    return self._client(self._bot_token)
                if self._store is None:
                    raise PostFailed(
                        f"SLACK_BOT_TOKEN is the bot token of workspace {self._token_team}, "
                        f"not of {team_id} (the account's slack.team_id)"
                    )
            if self._store is not None:
                bot = await self._store.async_find_bot(enterprise_id=None, team_id=team_id)
                if bot is not None and bot.bot_token:
                    return self._client(bot.bot_token)
            return None

    async def _token_workspace(self, token: str) -> str:
        """The workspace of ``token`` (``auth.test``), or :class:`PostFailed` saying why not."""
        try:
            answer = await self._client(token).auth_test()
        except SlackApiError as error:
            code = error.response.get("error") if error.response is not None else None
            logger.warning("auth.test refused SLACK_BOT_TOKEN (%s)", code or "an error")
            raise PostFailed(
                f"Slack refused SLACK_BOT_TOKEN ({code or 'an error'}): set it to the app's Bot "
                "User OAuth Token (api.slack.com/apps → your app → OAuth & Permissions)"
            ) from None
        except (SlackClientError, OSError, TimeoutError) as error:
            logger.warning("auth.test failed (%s)", type(error).__name__)
            raise PostFailed(
                f"Slack could not be reached to check SLACK_BOT_TOKEN ({type(error).__name__})"
            ) from None
        return str(answer.get("team_id") or "")

    async def aclose(self) -> None:
        """Close the shared HTTP session."""
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None
        self._clients.clear()
