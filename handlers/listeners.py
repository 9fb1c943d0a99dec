"""Bolt listeners: parse the payload → ack() (no I/O before it) → one SeatDesk call → respond.

``/seats help`` and a command that cannot be read are answered in the ack itself (nothing to
read first). Other replies to ``/seats`` and to buttons go through the request's
``response_url`` (ephemeral, and
a button's result replaces the prompt it was clicked on — except Approve on a message others see
too, the approvals channel's post, whose answer is the clicker's alone: billing says which). A
form submission has no response URL, so its confirmation prompt is posted with
``chat.postEphemeral`` in the channel where ``/seats`` was typed; its buttons then reply through
their own response URL like any other.

A signed payload that makes no sense (no user, wrong types) is acknowledged and logged in one
line: never a 5xx, never a traceback.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from functools import cache, partial
from typing import Any, NamedTuple

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from billing.access import Caller
from billing.errors import UserFacingError
from billing.seats import clean_reason
from handlers import ids, views
from handlers.approval_desk import ApprovalDesk
from handlers.commands import (
    ChangeSeats,
    OpenModal,
    ShowHelp,
    ShowHistory,
    ShowStatus,
    Unrecognised,
    parse_seats_command,
)
from handlers.errors import user_facing
from handlers.payloads import (
    caller_of_command,
    caller_of_interaction,
    clicked_message,
    input_value,
    slack_id,
    text_field,
    view_values,
)
from handlers.seat_desk import ModalOpening, SeatDesk, read_submission
from handlers.views import Message

logger = logging.getLogger(__name__)

#: Longer than any ``trigger_id`` Slack sends; anything longer is not one.
_TRIGGER_ID_LIMIT = 200


async def reply(respond: AsyncRespond, message: Message, *, replace: bool = False) -> None:
    """Answer at the interaction's response URL: in place of the clicked message when
    ``replace``, else to the person alone (an ephemeral message)."""
    if replace:
        await respond(text=message.text, blocks=message.blocks, replace_original=True)
    else:
        await respond(
            text=message.text,
            blocks=message.blocks,
            response_type="ephemeral",
            replace_original=False,
        )


def _ignored(kind: str, problem: str) -> None:
    logger.warning("Ignored a signed %s: %s", kind, problem)


def _form(body: dict[str, Any], kind: str) -> tuple[Caller, dict[str, Any]] | None:
    """Who sent a form's ``kind`` of interaction, and the form (its view); ``None``, logged as
    ignored, without either."""
    caller = caller_of_interaction(body)
    view = body.get("view")
    if caller is None or not isinstance(view, dict):
        _ignored(kind, "no user, team or view")
        return None
    return caller, view


def _as_sent(answer: views.Message) -> tuple[str, tuple[dict[str, Any], ...]]:
    """A message's text and blocks as Bolt sends them (each block validated and serialised)."""
    return answer.text, tuple(block.to_dict() for block in answer.blocks)


@cache
def _help_answer() -> tuple[str, tuple[dict[str, Any], ...]]:
    """``/seats help``'s answer: the same every time, so built and serialised once."""
    return _as_sent(views.help_message())


class SeatsCommandListener:
    """``/seats [status|history|help|add|remove|set …]``."""

    def __init__(self, desk: SeatDesk) -> None:
        self._desk = desk

    async def on_command(
        self, ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient
    ) -> None:
        caller = caller_of_command(command)
        typed = text_field(command.get("text"), None) or ""
        parsed = parse_seats_command(typed)
        channel_id = slack_id(command.get("channel_id"))
        if caller is None:
            await ack()
            _ignored("slash command", "no team or user id")
            return
        if isinstance(parsed, ShowHelp | Unrecognised):
            # Known without reading anything: the answer is the ack itself (one HTTP exchange,
            # shown at once, no response URL to call afterwards).
            text, blocks = (
                _help_answer()
                if isinstance(parsed, ShowHelp)
                else _as_sent(views.unrecognised_message(parsed))
            )
            await ack(text=text, blocks=list(blocks), response_type="ephemeral")
            return
        await ack()
        if isinstance(parsed, OpenModal):
            trigger_id = text_field(command.get("trigger_id"), _TRIGGER_ID_LIMIT)
            if trigger_id is None:
                _ignored("slash command", "no trigger id to open the form with")
                return
            await self._open_modal(caller, channel_id, parsed.account, trigger_id, client, respond)
            return
        answer = await user_facing(self._answer(caller, channel_id, parsed), typed=typed)
        await reply(respond, answer)

    def _answer(
        self, caller: Caller, channel_id: str | None, parsed: ShowStatus | ShowHistory | ChangeSeats
    ) -> Awaitable[Message]:
        match parsed:
            case ShowStatus(account=account):
                return self._desk.status(caller, channel_id, account)
            case ShowHistory(account=account):
                return self._desk.history(caller, channel_id, account)
        return self._desk.request_change(caller, channel_id, parsed)

    async def _open_modal(
        self,
        caller: Caller,
        channel_id: str | None,
        account: str | None,
        trigger_id: str,
        client: AsyncWebClient,
        respond: AsyncRespond,
    ) -> None:
        opening = await user_facing(self._desk.open_modal(caller, channel_id, account))
        if isinstance(opening, Message):
            await reply(respond, opening)
            return
        await show_form(self._desk, opening, trigger_id, client)


async def show_form(
    desk: SeatDesk, opening: ModalOpening, trigger_id: str, client: AsyncWebClient
) -> None:
    """Open the seat-change form at once (the trigger_id lives 3 s; the platform may be slow),
    then fill in the users."""
    opened = await client.views_open(trigger_id=trigger_id, view=opening.view)
    filled = await desk.modal_with_users(opening)
    await _update_view(client, opened["view"]["id"], opened["view"].get("hash"), filled)


class SeatModalListener:
    """The seat-change form: live preview on product/count changes, and its submission."""

    def __init__(self, desk: SeatDesk) -> None:
        self._desk = desk

    async def on_input_change(
        self, ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient
    ) -> None:
        await ack()
        form = _form(body, "form change")
        if form is None:
            return
        caller, view = form
        view_id = text_field(view.get("id"), 64)
        if view_id is None:
            _ignored("form change", "no view id")
            return
        updated = await user_facing(
            self._desk.modal_preview(caller, view.get("private_metadata"), view_values(view))
        )
        if updated is not None and not isinstance(updated, Message):
            await _update_view(client, view_id, text_field(view.get("hash"), 200), updated)

    async def on_submit(self, ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        form = _form(body, "form submission")
        if form is None:
            await ack()
            return
        caller, view = form
        result = read_submission(view.get("private_metadata"), view_values(view))
        if isinstance(result, dict):
            await ack(response_action="errors", errors=result)
            return
        await ack()
        message = await user_facing(self._desk.submit(caller, result))
        channel = result.context.channel_id
        if channel:
            await client.chat_postEphemeral(
                channel=channel, user=caller.user_id, text=message.text, blocks=message.blocks
            )
        else:
            await client.chat_postMessage(
                channel=caller.user_id, text=message.text, blocks=message.blocks
            )


class PromptButtonsListener:
    """Confirm, Cancel and Check again on a seat-change prompt: each one desk call, whose answer
    replaces the clicked message."""

    def __init__(self, desk: SeatDesk) -> None:
        self.on_confirm = button("button click", partial(_in_place, desk.confirm))
        self.on_cancel = button("button click", partial(_in_place, desk.cancel))
        self.on_check_again = button("button click", partial(_in_place, desk.check_again))


async def _in_place(
    step: Callable[[Caller, object, AsyncWebClient | None], Awaitable[Message]], click: Click
) -> None:
    if click.respond.response_url is None:
        _ignored("button click", "no response URL to answer at")
        return
    message = await user_facing(step(click.caller, click.value, click.client))
    await reply(click.respond, message, replace=True)


class ApprovalListener:
    """Approve and Deny on an approver's message, and the form asking why a change is denied."""

    def __init__(self, desk: ApprovalDesk) -> None:
        self._desk = desk
        self.on_approve = button("approve click", self._approve)
        self.on_deny = button("deny click", self._deny)

    async def _approve(self, click: Click) -> None:
        caller, value, body, respond, client = click
        if respond.response_url is None and _container(body) == "view":
            # Approve on the App Home: no message to replace; the home is refreshed by the
            # decision, and only a problem is told (by DM).
            quiet = await user_facing(self._desk.approve_quietly(caller, value, client))
            if quiet is not None:
                await client.chat_postMessage(
                    channel=caller.user_id, text=quiet.text, blocks=quiet.blocks
                )
            return
        if respond.response_url is None:
            _ignored("approve click", "no response URL to answer at")
            return
        # On a shared post (the approvals channel's) the answer is the clicker's alone.
        answer = await user_facing(
            self._desk.approve_clicked(caller, value, clicked_message(body), client)
        )
        if isinstance(answer, Message):  # unexpected: told to the clicker alone
            await reply(respond, answer)
            return
        await reply(respond, answer.message, replace=answer.in_place)

    async def _deny(self, click: Click) -> None:
        caller, value, body, _, client = click
        trigger_id = text_field(body.get("trigger_id"), _TRIGGER_ID_LIMIT)
        if trigger_id is None:
            _ignored("deny click", "no trigger id to open the form with")
            return
        form = await user_facing(self._desk.deny_form(caller, value))
        if isinstance(form, Message):
            await client.chat_postEphemeral(
                channel=_channel_of(body) or caller.user_id,
                user=caller.user_id,
                text=form.text,
                blocks=form.blocks,
            )
            return
        await client.views_open(trigger_id=trigger_id, view=form)

    async def on_deny_submit(
        self, ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient
    ) -> None:
        form = _form(body, "deny form")
        if form is None:
            await ack()
            return
        caller, view = form
        typed = input_value(
            view_values(view), ids.DENY_REASON_BLOCK, ids.DENY_REASON_ACTION, limit=None
        )
        # Billing's own rule for reasons (it runs it again), so a problem shows on the field.
        try:
            reason = clean_reason(typed or "")
        except UserFacingError as exc:
            await ack(response_action="errors", errors={ids.DENY_REASON_BLOCK: exc.message})
            return
        if not reason:
            await ack(
                response_action="errors",
                errors={ids.DENY_REASON_BLOCK: "Say why, for the person who asked."},
            )
            return
        await ack()
        answer = await user_facing(
            self._desk.deny(caller, view.get("private_metadata"), reason, client)
        )
        # Denied: the approver's own message is stamped. Anything else, they are told by DM.
        if answer is not None:
            await client.chat_postMessage(
                channel=caller.user_id, text=answer.text, blocks=answer.blocks
            )


class Click(NamedTuple):
    """A button's click, acknowledged: who clicked, the button's value (only a claim), the
    request's body, and where to answer."""

    caller: Caller
    value: object
    body: dict[str, Any]
    respond: AsyncRespond
    client: AsyncWebClient


def button(kind: str, handle: Callable[[Click], Awaitable[None]]) -> Callable[..., Awaitable[None]]:
    """The Bolt listener of a button (Bolt passes its arguments by name): ``ack()`` first, then
    ``handle``; a click naming no one is logged and dropped."""

    async def on_click(
        ack: AsyncAck,
        body: dict[str, Any],
        action: dict[str, Any],
        respond: AsyncRespond,
        client: AsyncWebClient,
    ) -> None:
        caller = caller_of_interaction(body)
        value = action.get("value") if isinstance(action, dict) else None
        await ack()
        if caller is None:
            _ignored(kind, "no team or user id")
            return
        await handle(Click(caller, value, body, respond, client))

    return on_click


def _container(body: dict[str, Any]) -> str | None:
    container = body.get("container")
    kind = container.get("type") if isinstance(container, dict) else None
    return kind if isinstance(kind, str) else None


def _channel_of(body: dict[str, Any]) -> str | None:
    channel = body.get("channel")
    return slack_id(channel.get("id")) if isinstance(channel, dict) else None


async def _update_view(
    client: AsyncWebClient, view_id: str, view_hash: str | None, view: Any
) -> None:
    try:
        await client.views_update(view_id=view_id, hash=view_hash, view=view)
    except SlackApiError as exc:
        # A newer update won the race (the owner kept typing): that view is the right one.
        if exc.response.get("error") == "hash_conflict":
            return
        if exc.response.get("error") in ("not_found", "view_not_found"):
            logger.info("The form %s was closed before it could be updated", view_id)
            return
        raise
