"""The prompt of ``seatbot dev``: Slack's side of the conversation, as text.

The developer types ``/seats …`` as a chosen Slack user; the request goes to the app signed
exactly as Slack signs it, and every reply (messages, modals) is printed as text with its
buttons numbered: typing ``1`` clicks the first. Commands are read line by line from a stream,
so the loop runs the same from a terminal or from a script.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TextIO

from rich.console import Console
from rich.panel import Panel
from rich.text import Text

from bot.offline.demo_setup import CHANNEL, OWNER
from bot.offline.dev import DevServers
from bot.offline.render import render_message, render_view
from bot.offline.standin import RecordedCall
from bot.offline.standin.bolt_tasks import bolt_listeners_finished
from bot.offline.standin.slack_driver import (
    DriverResult,
    button,
    number_input_value,
    static_select_value,
    text_input_value,
)

#: How long the prompt waits for the app to finish answering one request.
REPLY_WITHIN_S = 20.0
#: Methods whose arguments are a message the developer should see.
_MESSAGE_METHODS = (
    "ack",
    "response_url",
    "chat.postEphemeral",
    "chat.postMessage",
    "chat.update",
)
_VIEW_METHODS = ("views.open", "views.update", "views.push")

HELP = """\
/seats …        send a slash command (e.g. /seats status, /seats remove 5 cc)
N               click button N of the last reply
N VALUE         type VALUE into input N of the open modal (a number, or an option's name)
as USER_ID      act as another Slack user (default U0ACMEOWNER, the example owner)
help            this list
quit            stop (end of input does the same)"""


@dataclass
class Choice:
    """A numbered thing the developer can click or type into."""

    label: str
    click: Callable[[str | None], Awaitable[None]]
    takes_value: bool = False


@dataclass
class DevPrompt:
    """Reads commands, sends them to the app as Slack would, prints the replies."""

    servers: DevServers
    console: Console
    user_id: str = OWNER
    channel_id: str = CHANNEL
    choices: list[Choice] = field(default_factory=list)
    modal: dict[str, Any] | None = None
    modal_values: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Print each command before its reply (a terminal already shows what was typed).
    echo: bool = True

    async def run(self, lines: TextIO, *, interactive: bool) -> None:
        """Handle ``lines`` until ``quit`` or the end of input."""
        self.echo = not interactive
        while True:
            if interactive:
                self.console.print(Text(f"{self.user_id}> ", style="bold green"), end="")
            line = await _read_line(lines)
            if not line:
                return
            if not await self.handle(line.strip()):
                return

    async def handle(self, line: str) -> bool:
        """Act on one line; ``False`` to stop."""
        if not line or line.startswith("#"):
            return True
        if line in ("quit", "exit"):
            return False
        if line == "help":
            self.console.print(HELP, highlight=False)
            return True
        if self.echo:
            self.console.print(
                Text.assemble((f"{self.user_id} ", "bold green"), ("› ", "dim"), line)
            )
        word, _, rest = line.partition(" ")
        if word == "as" and rest.strip():
            self.user_id = rest.strip()
            self.console.print(f"(now acting as {self.user_id})", style="italic yellow")
        elif word == "/seats":
            await self._exchange(
                lambda: self.servers.driver.slash_command(
                    rest.strip(), user_id=self.user_id, channel_id=self.channel_id
                )
            )
        elif word.isdigit():
            await self._choose(int(word), rest.strip() or None)
        else:
            self.console.print(f"not understood: {line!r} (type help)", style="yellow")
        return True

    async def _choose(self, number: int, value: str | None) -> None:
        if not 1 <= number <= len(self.choices):
            self.console.print(f"there is no [{number}] in the last reply", style="yellow")
            return
        choice = self.choices[number - 1]
        if choice.takes_value and value is None:
            self.console.print(f"[{number}] needs a value: {number} VALUE", style="yellow")
            return
        await choice.click(value)

    async def _exchange(self, send: Callable[[], Awaitable[Any]]) -> None:
        """Send one request and print whatever the app did in answer."""
        calls = self.servers.standin.calls()
        after = calls[-1].seq if calls else 0
        sent = await send()
        status = getattr(sent, "status_code", 200)
        if status != 200:
            self.console.print(f"the app answered HTTP {status}", style="red")
        await bolt_listeners_finished(REPLY_WITHIN_S)
        replies = [call for call in self.servers.standin.calls() if call.seq > after]
        acked = sent.answer(after) if isinstance(sent, DriverResult) else None
        if acked is not None:  # answered in the ack itself
            replies.insert(0, acked)
        self._show(replies)

    def _show(self, replies: list[RecordedCall]) -> None:
        if not replies:
            # Nothing new: the last reply's numbers still mean what they meant.
            self.console.print("(no visible reply)", style="italic yellow")
            return
        self.choices = []
        shown = False
        views: dict[str, None] = {}  # each view once, in its latest state
        for call in replies:
            if call.method in _MESSAGE_METHODS and not call.args.get("delete_original"):
                self._show_message(call)
                shown = True
            elif call.method in _VIEW_METHODS and call.ok:
                view_id = call.response.get("view", {}).get("id") or call.args.get("view_id")
                if view_id:
                    views[str(view_id)] = None
        for view_id in views:
            self._show_view(view_id)
            shown = True
        if not shown:
            self.console.print("(no visible reply)", style="italic yellow")

    def _show_message(self, call: RecordedCall) -> None:
        title = {
            "response_url": "Seatbot · only visible to you",
            "ack": "Seatbot · only visible to you",
            "chat.postEphemeral": "Seatbot · only visible to you",
        }.get(call.method, f"Seatbot · {call.method}")
        lines = render_message(call.args, width=max(40, self.console.width - 6))
        message = None
        if call.method == "chat.postMessage" and call.response.get("ts"):
            message = dict(call.args, ts=call.response["ts"])
        for element, block_id in _buttons(call.args.get("blocks") or []):
            self._add_button(element, block_id, message=message)
        self._panel(lines, title)

    def _show_view(self, view_id: str) -> None:
        view = self.servers.standin.view(view_id)
        if self.modal is None or self.modal.get("id") != view_id:
            self.modal_values = {}  # a new modal: nothing typed into it yet
        self.modal = view
        shown = dict(view, state={"values": self.modal_values})
        lines = render_view(shown, width=max(40, self.console.width - 6))
        for block in view.get("blocks") or []:
            element = block.get("element") or {}
            if block.get("type") == "input" and element.get("type") in (
                "number_input",
                "plain_text_input",
                "static_select",
            ):
                self._add_input(block, element)
        for element, block_id in _buttons(view.get("blocks") or []):
            self._add_button(element, block_id, view=view)
        if view.get("submit"):
            self.choices.append(Choice(f"{view['submit'].get('text', 'Submit')}", self._submit))
        self._panel(lines, "Seatbot · modal")

    def _panel(self, lines: list[str], title: str) -> None:
        body = "\n".join(lines)
        if self.choices:
            numbered = "  ".join(
                f"[{n}] {c.label}{' VALUE' if c.takes_value else ''}"
                for n, c in enumerate(self.choices, start=1)
            )
            body = f"{body}\n\n{numbered}"
        self.console.print(Panel(Text(body), title=title, title_align="left", border_style="blue"))

    def _add_button(
        self,
        element: dict[str, Any],
        block_id: str | None,
        *,
        message: dict[str, Any] | None = None,
        view: dict[str, Any] | None = None,
    ) -> None:
        label = str(element.get("text", {}).get("text", "button"))
        action = button(
            str(element.get("action_id")),
            str(element.get("value", "")),
            block_id=str(block_id),
            text=label,
        )

        async def click(_value: str | None) -> None:
            await self._exchange(
                lambda: self.servers.driver.block_action(
                    action,
                    user_id=self.user_id,
                    channel_id=None if view is not None else self.channel_id,
                    message=message,
                    view=view,
                    state_values=self.modal_values if view is not None else None,
                )
            )

        self.choices.append(Choice(label, click))

    def _add_input(self, block: dict[str, Any], element: dict[str, Any]) -> None:
        label = str(block.get("label", {}).get("text", "input"))
        block_id, action_id = str(block.get("block_id")), str(element.get("action_id"))
        kind = element.get("type")

        async def type_value(value: str | None) -> None:
            text = value or ""
            if kind == "static_select":
                option = _option_named(element, text)
                if option is None:
                    self.console.print(f"no option {text!r} in {label}", style="yellow")
                    return
                state = static_select_value(option["value"], option["text"]["text"])
                sent: dict[str, Any] = {"type": "static_select", "selected_option": option}
            else:
                number = kind == "number_input"
                state = number_input_value(text) if number else text_input_value(text)
                sent = {"type": kind, "value": text}
            self.modal_values.setdefault(block_id, {})[action_id] = state
            view = self.modal
            if view is None:
                return
            if not block.get("dispatch_action"):
                # Slack sends nothing for such an input until the form is submitted.
                self.choices = []
                self._show_view(str(view["id"]))
                return
            action = dict(
                sent,
                action_id=action_id,
                block_id=block_id,
                action_ts=f"{datetime.now(UTC).timestamp():.6f}",
            )
            values = {b: dict(a) for b, a in self.modal_values.items()}
            await self._exchange(
                lambda: self.servers.driver.block_action(
                    action, user_id=self.user_id, view=view, state_values=values
                )
            )

        self.choices.append(Choice(label, type_value, takes_value=True))

    async def _submit(self, _value: str | None) -> None:
        view = self.modal
        if view is None:
            return
        values = {b: dict(a) for b, a in self.modal_values.items()}
        for block in view.get("blocks") or []:
            element = block.get("element") or {}
            initial = element.get("initial_option")
            if block.get("type") == "input" and initial and block.get("block_id") not in values:
                values[str(block["block_id"])] = {
                    str(element["action_id"]): static_select_value(
                        initial["value"], initial["text"]["text"]
                    )
                }
        await self._exchange(
            lambda: self.servers.driver.view_submission(view, user_id=self.user_id, values=values)
        )


def _buttons(blocks: list[dict[str, Any]]) -> list[tuple[dict[str, Any], str | None]]:
    found: list[tuple[dict[str, Any], str | None]] = []
    for block in blocks:
        if block.get("type") == "actions":
            found.extend(
                (element, block.get("block_id"))
                for element in block.get("elements") or []
                if element.get("type") == "button"
            )
        accessory = block.get("accessory")
        if isinstance(accessory, dict) and accessory.get("type") == "button":
            found.append((accessory, block.get("block_id")))
    return found


def _option_named(element: dict[str, Any], text: str) -> dict[str, Any] | None:
    wanted = text.strip().casefold()
    for option in element.get("options") or []:
        if wanted in (str(option.get("value", "")).casefold(), option["text"]["text"].casefold()):
            return dict(option)
    return None


async def _read_line(lines: TextIO) -> str:
    """The next line of ``lines`` ("" at the end), read in a daemon thread: Ctrl-C stops the
    prompt at once (a thread of asyncio's pool, blocked reading, was waited for at exit)."""
    line: concurrent.futures.Future[str] = concurrent.futures.Future()
    line.set_running_or_notify_cancel()  # a stopped prompt cannot cancel it under the thread

    def read() -> None:
        try:
            line.set_result(lines.readline())
        except Exception as error:  # for the awaiting prompt
            line.set_exception(error)

    threading.Thread(target=read, name="dev-prompt-stdin", daemon=True).start()
    return await asyncio.wrap_future(line)
