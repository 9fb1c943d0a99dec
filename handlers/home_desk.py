"""The App Home at the Slack edge: build a member's home tab and publish it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from datetime import datetime
from zoneinfo import ZoneInfo

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from billing.access import Caller
from billing.seats import AccountReads
from handlers.facts import PlatformFacts
from handlers.views.home import home_view

logger = logging.getLogger(__name__)


class HomeDesk:
    """Publishes App Home tabs (``views.publish``)."""

    def __init__(
        self,
        reads: AccountReads,
        facts: PlatformFacts,
        *,
        clock: Callable[[], datetime],
    ) -> None:
        self._reads = reads
        self._facts = facts
        self._clock = clock

    async def publish(self, caller: Caller, client: AsyncWebClient, *, start: int = 0) -> None:
        """Build and publish ``caller``'s home tab (what they may see, now), its page from their
        ``start``-th account."""
        home = await asyncio.to_thread(self._reads.home, caller, at=self._clock(), start=start)
        listings = [
            await asyncio.gather(*map(self._facts.recent_listing, entry.listings))
            for entry in home.accounts
        ]
        where = [ZoneInfo(entry.account.timezone) for entry in home.accounts]
        await client.views_publish(user_id=caller.user_id, view=home_view(home, listings, where))

    async def refresh(self, people: Iterable[Caller], client: AsyncWebClient) -> None:
        """Publish the home tabs of ``people`` again (after something they see changed);
        failures are logged, never raised: a stale home is fixed by the next change."""
        for person in dict.fromkeys(people):
            try:
                await self.publish(person, client)
            except SlackApiError as exc:
                logger.warning(
                    "Could not refresh the App Home of %s (%s)",
                    person.user_id,
                    exc.response.get("error"),
                )
