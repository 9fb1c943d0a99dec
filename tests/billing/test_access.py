"""Who may do what, and which account a workspace's request acts on: pure rules."""

from __future__ import annotations

import pytest

from billing.access import (
    AMBIGUOUS_NAMES,
    Action,
    AmbiguousAccount,
    Caller,
    Role,
    authorise,
    choose_account,
    may,
    may_know,
    refusal_for,
)
from billing.errors import NO_ROLE, NotAuthorised, NotFound
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
        authorise(Action.REQUEST_CHANGE, Role.VIEWER, account_name="Acme", contacts=("U1",))
    assert refused.value.contacts == ("U1",)
    assert "Acme" in refused.value.message  # a member knows their account's name


@pytest.mark.parametrize("action", list(Action))
def test_a_caller_without_a_role_learns_nothing_of_the_account(action: Action) -> None:
    with pytest.raises(NotAuthorised) as refused:
        authorise(action, None, account_name="Acme", contacts=("U1",))
    assert (refused.value.message, refused.value.contacts) == (NO_ROLE, ())


def test_a_refusal_for_a_caller_without_a_role_drops_whom_to_ask() -> None:
    refusal = NotAuthorised("Only the approvers of this seat change can decide it.", ["U_MGR"])
    assert refusal_for(Role.VIEWER, refusal) is refusal
    told = refusal_for(None, refusal)
    assert (told.message, told.contacts) == (NO_ROLE, ())


@pytest.mark.parametrize(
    ("role", "is_requester", "is_decider", "allowed"),
    [
        (Role.MANAGER, False, True, True),
        (None, False, True, True),  # an approver named by id, from another workspace
        (Role.MANAGER, False, False, False),  # a manager the request was not sent to
        (Role.OWNER, True, True, False),  # nobody decides their own request
    ],
)
def test_only_a_decider_decides_and_never_their_own(
    role: Role | None, is_requester: bool, is_decider: bool, allowed: bool
) -> None:
    assert may(Action.DECIDE, role, is_requester=is_requester, is_decider=is_decider) is allowed


def test_a_refused_decision_says_why_and_names_the_deciders() -> None:
    with pytest.raises(NotAuthorised) as own:
        authorise(
            Action.DECIDE,
            Role.MANAGER,
            account_name="Acme",
            contacts=("U_MGR",),
            is_requester=True,
            is_decider=True,
        )
    assert own.value.message == "You asked for this seat change, so someone else must approve it."
    assert own.value.contacts == ("U_MGR",)
    with pytest.raises(NotAuthorised) as other:
        authorise(Action.DECIDE, Role.VIEWER, account_name="Acme", contacts=("U_MGR",))
    assert other.value.message == "Only the approvers of this seat change can decide it."


@pytest.mark.parametrize(
    ("team", "role", "listed", "known"),
    [
        ("T1", None, False, True),  # the account's own workspace
        ("T2", Role.VIEWER, False, True),  # a member from elsewhere
        ("T2", None, True, True),  # an approver the request names
        ("T2", None, False, False),
    ],
)
def test_who_may_know_an_account_exists(
    team: str, role: Role | None, listed: bool, known: bool
) -> None:
    assert may_know("T1", Caller(team, "U1"), role, listed=listed) is known


def account(account_id: int, name: str, channel: str | None = None) -> AccountView:
    return AccountView(account_id, name, name.title(), "USD", "UTC", "T1", channel)


ACME, INITECH = account(1, "acme", "C1"), account(2, "initech", "C2")


def test_choose_account() -> None:
    both = [ACME, INITECH]
    assert choose_account([ACME], name=None, channel_id=None, member_of={1}) == ACME
    assert choose_account(both, name="INITECH", channel_id=None, member_of={1, 2}) == INITECH
    assert choose_account(both, name=None, channel_id=None, member_of={2}) == INITECH
    assert choose_account(both, name=None, channel_id="C1", member_of={1, 2}) == ACME
    with pytest.raises(AmbiguousAccount) as ambiguous:
        choose_account(both, name=None, channel_id="C9", member_of={1, 2})
    assert ambiguous.value.names == ("acme", "initech")
    with pytest.raises(NotFound, match="called “globex”"):
        choose_account(both, name="globex", channel_id=None, member_of={1})
    with pytest.raises(NotFound, match="No Seatbot account"):
        choose_account([], name=None, channel_id=None, member_of=())


def test_choose_account_names_no_account_the_caller_holds_no_role_in() -> None:
    both, third = [ACME, INITECH], account(3, "globex", "C3")
    # Without a role anywhere: the same answer, whatever they name or wherever they ask.
    for name, channel in [(None, None), (None, "C1"), ("acme", None), ("zork", None)]:
        with pytest.raises(NotAuthorised) as refused:
            choose_account(both, name=name, channel_id=channel, member_of=())
        assert (refused.value.message, refused.value.contacts) == (NO_ROLE, ())
    # A member of two of three: the third is never chosen, listed, or told apart from none.
    with pytest.raises(AmbiguousAccount) as ambiguous:
        choose_account([*both, third], name=None, channel_id="C3", member_of={1, 2})
    assert ambiguous.value.names == ("acme", "initech")
    assert "globex" not in ambiguous.value.message
    with pytest.raises(NotFound) as named:
        choose_account([*both, third], name="globex", channel_id=None, member_of={1, 2})
    with pytest.raises(NotFound) as made_up:
        choose_account([*both, third], name="zork", channel_id=None, member_of={1, 2})
    assert named.value.message.replace("globex", "zork") == made_up.value.message
    # Only one account is theirs: that one, even where another account's channel is.
    assert choose_account(both, name=None, channel_id="C1", member_of={2}) == INITECH


def test_an_ambiguous_command_names_the_first_accounts_and_says_there_are_more() -> None:
    many = [account(n, f"acct-{n:02d}", f"C{n}") for n in range(1, AMBIGUOUS_NAMES + 3)]
    with pytest.raises(AmbiguousAccount) as ambiguous:
        choose_account(many, name=None, channel_id=None, member_of={a.id for a in many})
    assert ambiguous.value.names == tuple(a.name for a in many[:AMBIGUOUS_NAMES])
    assert ambiguous.value.message.endswith(
        f"{many[AMBIGUOUS_NAMES - 1].name} and more): say which one."
    )
    few = many[:AMBIGUOUS_NAMES]
    with pytest.raises(AmbiguousAccount) as exact:
        choose_account(few, name=None, channel_id=None, member_of={a.id for a in few})
    assert "and more" not in exact.value.message
