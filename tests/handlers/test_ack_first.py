"""Every listener acks before it does any I/O (service, platform or Slack Web API call)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from handlers import ids, views
from handlers.listeners import PromptButtonsListener, SeatModalListener, SeatsCommandListener


class Respond:
    """Bolt's ``respond``: callable, with the response URL it posts to."""

    response_url = "https://hooks.slack.invalid/response"

    def __init__(self, journal: Journal) -> None:
        self._journal = journal

    async def __call__(self, *args: Any, **kwargs: Any) -> None:
        self._journal.events.append("respond")


class Journal:
    def __init__(self) -> None:
        self.events: list[str] = []
        self.respond = Respond(self)
        self.acked_with: dict[str, Any] = {}

    async def ack(self, *args: Any, **kwargs: Any) -> None:
        self.events.append("ack")
        self.acked_with = kwargs


class RecordingDesk:
    """Stands in for SeatDesk: every call is I/O as far as ordering goes."""

    def __init__(self, journal: Journal) -> None:
        self._journal = journal

    def __getattr__(self, name: str) -> Callable[..., Awaitable[Any]]:
        async def call(*args: Any, **kwargs: Any) -> Any:
            self._journal.events.append(f"desk.{name}")
            return views.help_message()

        return call


class RecordingClient:
    def __init__(self, journal: Journal) -> None:
        self._journal = journal

    def __getattr__(self, name: str) -> Callable[..., Awaitable[Any]]:
        async def call(*args: Any, **kwargs: Any) -> Any:
            self._journal.events.append(f"client.{name}")
            return {"ok": True, "view": {"id": "V1", "hash": "h"}}

        return call


def _body() -> dict[str, Any]:
    return {
        "team": {"id": "T1"},
        "user": {"id": "U1"},
        "view": {"id": "V1", "hash": "h", "private_metadata": "{}", "state": {"values": {}}},
    }


def _assert_ack_first(journal: Journal) -> None:
    assert journal.events, "the listener did nothing"
    assert journal.events[0] == "ack", journal.events
    assert journal.events.count("ack") == 1


@pytest.mark.parametrize(
    "text", ["", "status", "history", "help", "add 3 axiom", "remove 2 cc", "ad 3 axim"]
)
async def test_seats_command_acks_first(text: str) -> None:
    journal = Journal()
    listener = SeatsCommandListener(RecordingDesk(journal))  # type: ignore[arg-type]
    command = {
        "text": text,
        "team_id": "T1",
        "user_id": "U1",
        "channel_id": "C1",
        "trigger_id": "t",
    }
    await listener.on_command(journal.ack, command, journal.respond, RecordingClient(journal))  # type: ignore[arg-type]
    _assert_ack_first(journal)
    if text in ANSWERED_IN_THE_ACK:
        assert journal.events == ["ack"]  # nothing to read: the ack is the answer
        assert journal.acked_with["blocks"]
        assert journal.acked_with["response_type"] == "ephemeral"
    else:
        assert len(journal.events) > 1  # it answered, after the ack
        assert journal.acked_with == {}


#: Commands whose answer needs nothing read first (help, a command that cannot be read).
ANSWERED_IN_THE_ACK = ("help", "ad 3 axim")


async def test_modal_input_change_acks_first() -> None:
    journal = Journal()
    listener = SeatModalListener(RecordingDesk(journal))  # type: ignore[arg-type]
    await listener.on_input_change(journal.ack, _body(), RecordingClient(journal))  # type: ignore[arg-type]
    _assert_ack_first(journal)
    assert "desk.modal_preview" in journal.events


async def test_modal_submission_with_errors_answers_in_the_ack_and_does_nothing_else() -> None:
    journal = Journal()
    acks: list[dict[str, Any]] = []

    async def ack(**kwargs: Any) -> None:
        acks.append(kwargs)
        journal.events.append("ack")

    listener = SeatModalListener(RecordingDesk(journal))  # type: ignore[arg-type]
    body = _body()
    await listener.on_submit(ack, body, RecordingClient(journal))  # type: ignore[arg-type]
    assert journal.events == ["ack"]
    assert acks[0]["response_action"] == "errors"
    assert ids.PRODUCT_BLOCK in acks[0]["errors"]


@pytest.mark.parametrize("method", ["on_confirm", "on_cancel", "on_check_again"])
async def test_prompt_buttons_ack_first(method: str) -> None:
    journal = Journal()
    listener = PromptButtonsListener(RecordingDesk(journal))  # type: ignore[arg-type]
    await getattr(listener, method)(
        journal.ack, _body(), {"value": "7.1"}, journal.respond, RecordingClient(journal)
    )
    _assert_ack_first(journal)
    assert journal.events[-1] == "respond"
