"""Posting to a channel the bot is not in: Slack's ``channel_not_found`` / ``not_in_channel``
become :class:`billing.jobs.ports.NotInChannel` (the run waits to be invited), and the owner's
DM says what to do."""

from __future__ import annotations

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from billing.jobs.ports import NotInChannel
from billing.jobs.service import ChannelNotice
from billing.views import AccountView
from bot.offline.standin import SlackStandIn, start_standin
from handlers.slack_pacing import SlackPacing
from handlers.slack_posting import SlackPoster, SlackPosting, channel_notice
from handlers.views.text import message, section

TEAM = "T0ACME001"
TOKEN = "xoxb-slack-posting-test"
ACME = AccountView(1, "acme", "Acme <Telecom>", "USD", "Europe/London", TEAM, "C0SEATS")


async def test_a_channel_the_bot_cannot_see_is_not_in_channel() -> None:
    standin = SlackStandIn(strict_channels=True)
    standin.add_workspace(TEAM, TOKEN)
    async with start_standin(standin) as server:
        client = AsyncWebClient(token=TOKEN, base_url=server.api_url)

        async def client_for(team_id: str) -> AsyncWebClient | None:
            return client

        posting = SlackPosting(SlackPoster(client_for, SlackPacing()))
        hello = message("hello", [section("hello")])
        with pytest.raises(NotInChannel) as refused:
            await posting.post(TEAM, "C0SEATS", hello, thread_ts=None)
        assert refused.value.channel_id == "C0SEATS"
        assert refused.value.message == (
            "Seatbot is not in channel C0SEATS (channel_not_found): invite it there with "
            "`/invite @Seatbot`"
        )
        # A DM to the owner still goes.
        channel, _ = await posting.post(TEAM, "U0OWNER", hello, thread_ts=None)
        assert channel == "D0OWNER"


def test_the_owners_notice_says_how_to_invite_the_bot() -> None:
    notice = channel_notice(ChannelNotice(ACME, "C0SEATS", "digest", 10))
    assert notice.text == (
        "I could not post the digest for Acme &lt;Telecom&gt; in <#C0SEATS>: I am not in that "
        "channel. Invite me there (type `/invite @Seatbot` in <#C0SEATS>) and I will post it "
        "within 10 minutes."
    )
