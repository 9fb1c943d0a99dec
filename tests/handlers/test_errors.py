"""The Slack edge's one mapping of the error tree: an expected error shows its message, anything
else only a reference to the log line that tells the rest."""

from __future__ import annotations

import logging

import pytest

from billing.access import AmbiguousAccount
from billing.errors import InvalidInput, NotAuthorised
from handlers.errors import answer_for, user_facing
from handlers.views import Message


async def test_user_facing_errors_show_their_message_and_whom_to_ask() -> None:
    async def refuse() -> Message:
        raise NotAuthorised("Only the owners of Acme can change seats.", contacts=["U1", "U2"])

    message = await user_facing(refuse())
    assert isinstance(message, Message)
    assert message.text == "Only the owners of Acme can change seats."
    shown = message.blocks[0].to_dict()["text"]["text"]
    assert "Ask <@U1>, <@U2>." in shown


async def test_an_ambiguous_account_says_how_to_choose() -> None:
    async def ambiguous() -> Message:
        raise AmbiguousAccount(["acme", "initech"])

    message = await user_facing(ambiguous())
    assert isinstance(message, Message)
    assert "status account acme" in message.blocks[0].to_dict()["text"]["text"]


async def test_unexpected_errors_show_only_a_reference(caplog: pytest.LogCaptureFixture) -> None:
    async def crash() -> Message:
        raise RuntimeError("xoxb-secret-token leaked in an exception")

    with caplog.at_level(logging.ERROR):
        message = await user_facing(crash())
    assert isinstance(message, Message)
    assert "xoxb" not in message.text
    assert "RuntimeError" not in message.text
    [record] = caplog.records
    reference = record.getMessage().split("reference ")[1].rstrip(")")
    assert f"`{reference}`" in message.text


def test_an_expected_error_is_not_logged_as_a_failure(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        message = answer_for(InvalidInput("That is not a number of seats."))
    assert message.text == "That is not a number of seats."
    assert caplog.records == []
