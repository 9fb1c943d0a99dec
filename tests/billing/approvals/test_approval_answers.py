"""Where the answer to a click on an approval message goes: in place of a message only the
clicker sees (their DM, an ephemeral one), else to the clicker alone — a shared post, the
approvals channel's, is changed only by the decision's stamp."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker
from test_approvals import JAN_16, MANAGER, OWNER, VIEWER, submitted, with_policy

from billing.access import Caller
from billing.approvals.rules import AnswerPlace, ClickedMessage, answer_place
from billing.approvals.service import Approvals
from billing.seats.outcomes import MessageRef
from billing.seats.service import SeatChanges

Seed = Callable[..., Any]
IN_PLACE, CLICKER_ONLY = AnswerPlace.IN_PLACE, AnswerPlace.CLICKER_ONLY
ME = ("T_ACME", "U_MANAGER")


@pytest.mark.parametrize(
    ("clicked", "recipient", "place"),
    [
        (ClickedMessage("D_MANAGER", "1.1"), ME, IN_PLACE),  # my DM
        (ClickedMessage("C_APPROVALS", "2.2"), None, CLICKER_ONLY),  # a shared post
        (ClickedMessage("D_OTHER", "3.3"), ("T_ACME", "U_OTHER"), CLICKER_ONLY),
        (ClickedMessage("D_MANAGER", "1.1"), ("T_OTHER", "U_MANAGER"), CLICKER_ONLY),
        (ClickedMessage("C_APPROVALS", "4.4", ephemeral=True), None, IN_PLACE),  # mine alone
        (None, None, CLICKER_ONLY),  # Slack did not say which message
    ],
)
def test_an_answer_replaces_only_a_message_the_clicker_alone_sees(
    clicked: ClickedMessage | None, recipient: tuple[str, str] | None, place: AnswerPlace
) -> None:
    assert answer_place(clicked, recipient, ME) is place


def test_billing_knows_which_messages_are_whose(
    seed: Seed, session_factory: sessionmaker[Session]
) -> None:
    acme = seed()
    with_policy(session_factory, acme.account_id, channel_id="C_APPROVALS")
    request_id = submitted(SeatChanges(session_factory), acme, 8).request.id
    approvals = Approvals(session_factory)
    dm = MessageRef("T_ACME", "D_MANAGER", "1.000100", recipient="U_MANAGER")
    shared = MessageRef("T_ACME", "C_APPROVALS", "1.000200")
    approvals.record_messages(request_id, [dm, shared], JAN_16)

    def place(caller: Caller, channel: str, ts: str, *, request: int | None = request_id) -> Any:
        clicked = ClickedMessage(channel, ts)
        return approvals.where_to_answer(caller, request_id=request, clicked=clicked)

    assert place(MANAGER, "D_MANAGER", "1.000100") is IN_PLACE
    for someone in (MANAGER, OWNER, VIEWER, Caller("T_ACME", "U_NOBODY")):
        assert place(someone, "C_APPROVALS", "1.000200") is CLICKER_ONLY
    assert place(OWNER, "D_MANAGER", "1.000100") is CLICKER_ONLY  # not theirs
    assert place(MANAGER, "D_MANAGER", "9.9") is CLICKER_ONLY  # a message not recorded
    # A button naming another request (forged, or none at all) says nothing of this DM.
    assert place(MANAGER, "D_MANAGER", "1.000100", request=request_id + 1) is CLICKER_ONLY
    assert place(MANAGER, "D_MANAGER", "1.000100", request=None) is CLICKER_ONLY
