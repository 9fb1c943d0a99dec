"""Listeners of the digest's right-size buttons: parse → ack() → one desk call → answer.

"Remove 3 unused seats" opens the seat-change form (``views.open``) for an owner, preset from
today's figures; anyone else is answered at the click's response URL, ephemerally: to them alone,
with nothing but billing's refusal. "I removed some of them — check again" answers the clicker
alone with what can be removed now."""

from __future__ import annotations

from typing import Any

from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from handlers.errors import user_facing
from handlers.listeners import (
    _TRIGGER_ID_LIMIT,
    Click,
    _channel_of,
    _ignored,
    _update_view,
    button,
    reply,
)
from handlers.payloads import text_field
from handlers.rightsize_desk import RightSizeDesk
from handlers.views import Message


class RightSizeListener:
    """The digest's right-size and check-again buttons."""

    def __init__(self, desk: RightSizeDesk) -> None:
        self._desk = desk
        self.on_remove = button("right-size click", self._remove)
        self.on_recheck = button("check-again click", self._recheck)

    async def _remove(self, click: Click) -> None:
        caller, value, body, respond, client = click
        trigger_id = text_field(body.get("trigger_id"), _TRIGGER_ID_LIMIT)
        if trigger_id is None:
            _ignored("right-size click", "no trigger id to open the form with")
            return
        opening = await user_facing(self._desk.open_form(caller, value, _channel_of(body)))
        if isinstance(opening, Message):
            await self._tell(respond, client, caller.user_id, body, opening)
            return
        # Open at once (the trigger_id lives 3 s), then preset it from the platform's users.
        opened = await client.views_open(trigger_id=trigger_id, view=opening.view)
        filled = await user_facing(self._desk.filled(caller, opening))
        if isinstance(filled, Message):
            await self._tell(respond, client, caller.user_id, body, filled)
            return
        await _update_view(client, opened["view"]["id"], opened["view"].get("hash"), filled)

    async def _recheck(self, click: Click) -> None:
        caller, value, body, respond, client = click
        answer = await user_facing(self._desk.recheck(caller, value))
        await self._tell(respond, client, caller.user_id, body, answer)

    async def _tell(
        self,
        respond: AsyncRespond,
        client: AsyncWebClient,
        user_id: str,
        body: dict[str, Any],
        message: Message,
    ) -> None:
        """To the clicker alone: at the response URL, else ephemerally in the channel."""
        if respond.response_url is not None:
            await reply(respond, message)
            return
        channel = _channel_of(body)
        if channel is None:
            _ignored("right-size click", "nowhere to answer")
            return
        await client.chat_postEphemeral(
            channel=channel, user=user_id, text=message.text, blocks=message.blocks
        )
