"""Bolt listeners: parse the payload → ack() (no I/O before it) → one SeatDesk call → respond.

Replies to ``/seats`` and to buttons go through the request's ``response_url`` (ephemeral, and
a button's result replaces the prompt it was clicked on). A modal submission has no response
URL, so its confirmation prompt is posted with ``chat.postEphemeral`` in the channel where
``/seats`` was typed; its buttons then reply through their own response URL like any other.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from handlers import ids, views
from handlers.commands import (
    ChangeSeats,
    OpenModal,
    SeatsCommand,
    ShowHistory,
    ShowStatus,
    Unrecognised,
    parse_seats_command,
)
from handlers.seat_desk import Caller, SeatDesk, read_submission, user_facing
from handlers.views import Message

logger = logging.getLogger(__name__)


async def _reply(respond: AsyncRespond, message: Message, *, replace: bool = False) -> None:
    if replace:
        await respond(text=message.text, blocks=message.blocks, replace_original=True)
    else:
        await respond(text=message.text, blocks=message.blocks, response_type="ephemeral")


def _caller(body: dict[str, Any], channel_id: str | None = None) -> Caller:
    return Caller(team_id=body["team"]["id"], user_id=body["user"]["id"], channel_id=channel_id)


class SeatsCommandListener:
    """``/seats [status|history|help|add|remove|set …]``."""

    def __init__(self, desk: SeatDesk) -> None:
        self._desk = desk

    async def on_command(
        self, ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient
    ) -> None:
        parsed = parse_seats_command(str(command.get("text") or ""))
        caller = Caller(command["team_id"], command["user_id"], command.get("channel_id"))
        await ack()
        if isinstance(parsed, OpenModal):
            await self._open_modal(caller, parsed.account, command["trigger_id"], client, respond)
            return
        await _reply(respond, await user_facing(self._answer(caller, parsed)))

    def _answer(self, caller: Caller, parsed: SeatsCommand) -> Awaitable[Message]:
        match parsed:
            case ShowStatus(account=account):
                return self._desk.status(caller, account)
            case ShowHistory(account=account):
                return self._desk.history(caller, account)
            case ChangeSeats():
                return self._desk.request_change(caller, parsed)
            case Unrecognised():
                return _ready(views.unrecognised_message(parsed))
        return _ready(views.help_message())

    async def _open_modal(
        self,
        caller: Caller,
        account: str | None,
        trigger_id: str,
        client: AsyncWebClient,
        respond: AsyncRespond,
    ) -> None:
        opening = await user_facing(self._desk.open_modal(caller, account))
        if isinstance(opening, Message):
            await _reply(respond, opening)
            return
        # Open first: the trigger_id lives 3 s; the platform may be slow.
        opened = await client.views_open(trigger_id=trigger_id, view=opening.view)
        filled = await self._desk.modal_with_users(opening)
        await _update_view(client, opened["view"]["id"], opened["view"].get("hash"), filled)


class SeatModalListener:
    """The seat-change modal: live preview on product/count changes, and its submission."""

    def __init__(self, desk: SeatDesk) -> None:
        self._desk = desk

    async def on_input_change(
        self, ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient
    ) -> None:
        view = body["view"]
        values = view.get("state", {}).get("values", {})
        option = (
            values.get(ids.PRODUCT_BLOCK, {}).get(ids.PRODUCT_ACTION, {}).get("selected_option")
        )
        count = values.get(ids.COUNT_BLOCK, {}).get(ids.COUNT_ACTION, {}).get("value")
        await ack()
        subscription_id = option.get("value") if isinstance(option, dict) else None
        updated = await user_facing(
            self._desk.modal_preview(
                _caller(body), view["private_metadata"], subscription_id, count
            )
        )
        if not isinstance(updated, Message):
            await _update_view(client, view["id"], view.get("hash"), updated)

    async def on_submit(
        self, ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient
    ) -> None:
        result = read_submission(view["private_metadata"], view.get("state", {}).get("values", {}))
        if isinstance(result, dict):
            await ack(response_action="errors", errors=result)
            return
        await ack()
        caller = _caller(body, result.context.channel_id)
        message = await user_facing(self._desk.submit(caller, result))
        if caller.channel_id:
            await client.chat_postEphemeral(
                channel=caller.channel_id,
                user=caller.user_id,
                text=message.text,
                blocks=message.blocks,
            )
        else:
            await client.chat_postMessage(
                channel=caller.user_id, text=message.text, blocks=message.blocks
            )


class PromptButtonsListener:
    """Confirm, Cancel and Check again: the request id in the button is re-checked by the desk."""

    def __init__(self, desk: SeatDesk) -> None:
        self._desk = desk

    async def on_confirm(
        self, ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], respond: AsyncRespond
    ) -> None:
        await self._click(ack, body, action, respond, self._desk.confirm)

    async def on_cancel(
        self, ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], respond: AsyncRespond
    ) -> None:
        await self._click(ack, body, action, respond, self._desk.cancel)

    async def on_check_again(
        self, ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], respond: AsyncRespond
    ) -> None:
        await self._click(ack, body, action, respond, self._desk.check_again)

    async def _click(
        self,
        ack: AsyncAck,
        body: dict[str, Any],
        action: dict[str, Any],
        respond: AsyncRespond,
        step: Callable[[Caller, str], Awaitable[Message]],
    ) -> None:
        caller = _caller(body)
        await ack()
        message = await user_facing(step(caller, str(action.get("value") or "")))
        await _reply(respond, message, replace=True)


async def _update_view(
    client: AsyncWebClient, view_id: str, view_hash: str | None, view: Any
) -> None:
    try:
        await client.views_update(view_id=view_id, hash=view_hash, view=view)
    except SlackApiError as exc:
        # A newer update won the race (the owner kept typing): that view is the right one.
        if exc.response.get("error") != "hash_conflict":
            raise


async def _ready(message: Message) -> Message:
    return message
