"""Who may do what, and which account a workspace's request acts on: pure rules."""

from __future__ import annotations

import pytest

from billing.access import Action, AmbiguousAccount, authorise, choose_account, may
from billing.errors import NotAuthorised, NotFound
from billing.models import Role
from billing.views import AccountView


@pytest.mark.parametrize(
    ("action", "role", "is_requester", "allowed"),
    [
        (Action.VIEW, Role.OWNER, False, True),
        (Action.VIEW, Role.MANAGER, False, True),
        (Action.VIEW, Role.VIEWER, False, True),
        (Action.VIEW, None, False, False),
        (Action.REQUEST_CHANGE, Role.OWNER, False, True),
        (Action.REQUEST_CHANGE, Role.MANAGER, False, False),
        (Action.REQUEST_CHANGE, None, False, False),
        (Action.CONFIRM, Role.OWNER, True, True),
        (Action.CONFIRM, Role.OWNER, False, False),  # another owner's request
        (Action.CONFIRM, Role.MANAGER, True, False),  # no longer an owner
        (Action.CONFIRM, None, True, False),
        (Action.CHECK_AGAIN, Role.OWNER, False, True),
        (Action.CHECK_AGAIN, Role.VIEWER, True, False),
        (Action.CHECK_AGAIN, None, False, False),
        (Action.CANCEL, Role.OWNER, False, True),
        (Action.CANCEL, None, True, True),  # the requester may withdraw their own
        (Action.CANCEL, Role.MANAGER, False, False),
    ],
)
def test_may(action: Action, role: Role | None, is_requester: bool, allowed: bool) -> None:
    assert may(action, role, is_requester=is_requester) is allowed


def test_a_refusal_names_whom_to_ask_and_nothing_else() -> None:
    with pytest.raises(NotAuthorised) as refused:
        authorise(Action.VIEW, None, account_name="Acme", owners=("U1",))
    assert refused.value.contacts == ("U1",)
    assert "Acme" in refused.value.message


def account(account_id: int, name: str, channel: str | None = None) -> AccountView:
    return AccountView(account_id, name, name.title(), "USD", "UTC", "T1", channel)


ACME, INITECH = account(1, "acme", "C1"), account(2, "initech", "C2")


def test_choose_account() -> None:
    both = [ACME, INITECH]
    assert choose_account([ACME], name=None, channel_id=None, member_of=()) == ACME
    assert choose_account(both, name="INITECH", channel_id=None, member_of=()) == INITECH
    assert choose_account(both, name=None, channel_id=None, member_of={2}) == INITECH
    assert choose_account(both, name=None, channel_id="C1", member_of={1, 2}) == ACME
    with pytest.raises(AmbiguousAccount) as ambiguous:
        choose_account(both, name=None, channel_id="C9", member_of={1, 2})
    assert ambiguous.value.names == ("acme", "initech")
    with pytest.raises(NotFound, match="called “globex”"):
        choose_account(both, name="globex", channel_id=None, member_of=())
    with pytest.raises(NotFound, match="No Seatbot account"):
        choose_account([], name=None, channel_id=None, member_of=())
