"""Listeners of the App Home: publish a member's tab when they open it, its "Change seats"
button, which opens the form ``/seats`` opens, for the button's account, and "More accounts" /
"First accounts", which publish the tab again from another account."""

from __future__ import annotations

from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from billing.access import Caller
from handlers.errors import user_facing
from handlers.home_desk import HomeDesk
from handlers.listeners import _TRIGGER_ID_LIMIT, _ignored, logger, show_form
from handlers.payloads import caller_of_interaction, slack_id, text_field
from handlers.seat_desk import SeatDesk
from handlers.views import Message


class HomeListener:
    """``app_home_opened``: publish the member's home tab."""

    def __init__(self, home: HomeDesk) -> None:
        self._home = home

    async def on_home_opened(
        self, event: dict[str, Any], client: AsyncWebClient, body: dict[str, Any]
    ) -> None:
        if event.get("tab") not in (None, "home"):
            return
        team = slack_id(body.get("team_id"))
        user = slack_id(event.get("user"))
        if team is None or user is None:
            _ignored("app_home_opened", "no team or user id")
            return
        try:
            await self._home.publish(Caller(team, user), client)
        except SlackApiError as exc:
            logger.warning(
                "Could not publish the App Home of %s (%s)", user, exc.response.get("error")
            )


class HomePageButton:
    """ "More accounts" / "First accounts": the tab again, from the account the value names
    (a number; billing keeps it within the member's accounts)."""

    def __init__(self, home: HomeDesk) -> None:
        self._home = home

    async def on_click(
        self, ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient
    ) -> None:
        await ack()
        caller = caller_of_interaction(body)
        value = text_field(action.get("value"), 9) if isinstance(action, dict) else None
        if caller is None:
            _ignored("home page click", "no user or team id")
            return
        start = int(value) if value is not None and value.isascii() and value.isdigit() else 0
        try:
            await self._home.publish(caller, client, start=start)
        except SlackApiError as exc:
            logger.warning(
                "Could not publish the App Home of %s (%s)",
                caller.user_id,
                exc.response.get("error"),
            )


class ChangeSeatsButton:
    """ "Change seats" on the App Home (a problem is told by DM: the home has no reply)."""

    def __init__(self, desk: SeatDesk) -> None:
        self._desk = desk

    async def on_click(
        self, ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient
    ) -> None:
        caller = caller_of_interaction(body)
        account = text_field(action.get("value"), 64) if isinstance(action, dict) else None
        trigger_id = text_field(body.get("trigger_id"), _TRIGGER_ID_LIMIT)
        await ack()
        if caller is None or trigger_id is None:
            _ignored("change-seats click", "no user, team or trigger id")
            return
        opening = await user_facing(self._desk.open_modal(caller, None, account))
        if isinstance(opening, Message):
            await client.chat_postMessage(
                channel=caller.user_id, text=opening.text, blocks=opening.blocks
            )
            return
        await show_form(self._desk, opening, trigger_id, client)
