"""The bot token's workspace, learnt with auth.test: a token Slack refuses is said to be refused
(not missing), and a token of another workspace names both workspaces."""

from __future__ import annotations

import pytest

from billing.jobs.ports import PostFailed
from bot.offline.standin import SlackStandIn, start_standin
from bot.runtime.slack_clients import SlackClients

TEAM = "T0ACME001"
TOKEN = "xoxb-slack-clients-test"


async def test_the_bot_token_is_refused_missing_or_of_another_workspace() -> None:
    standin = SlackStandIn()
    standin.add_workspace(TEAM, TOKEN)
    async with start_standin(standin) as server:
        right = SlackClients(api_url=server.api_url, bot_token=TOKEN)
        wrong = SlackClients(api_url=server.api_url, bot_token="xoxb-not-the-token")
        try:
            assert await right.client_for(TEAM) is not None
            with pytest.raises(PostFailed) as elsewhere:
                await right.client_for("T0OTHER01")
            assert elsewhere.value.message == (
                f"SLACK_BOT_TOKEN is the bot token of workspace {TEAM}, not of T0OTHER01 "
                "(the account's slack.team_id)"
            )
            with pytest.raises(PostFailed) as refused:
                await wrong.client_for(TEAM)
            assert refused.value.message.startswith(
                "Slack refused SLACK_BOT_TOKEN (invalid_auth): set it to the app's Bot User "
                "OAuth Token"
            )
            assert "xoxb-not-the-token" not in refused.value.message
        finally:
            await right.aclose()
            await wrong.aclose()
