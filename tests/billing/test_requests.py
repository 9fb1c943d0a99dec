"""The seat-change request state machine."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing.errors import InvalidTransition, UserFacingError
from billing.requests import (
    OPEN_STATUSES,
    TRANSITIONS,
    RequestStatus,
    can_transition,
    check_transition,
    is_terminal,
)

S = RequestStatus


def test_the_documented_paths_exist() -> None:
    assert can_transition(S.DRAFT, S.APPROVED)  # no approval needed
    assert can_transition(S.DRAFT, S.PENDING_APPROVAL)
    assert can_transition(S.PENDING_APPROVAL, S.APPROVED)
    assert can_transition(S.PENDING_APPROVAL, S.DENIED)
    assert can_transition(S.APPROVED, S.APPLIED)
    assert can_transition(S.APPROVED, S.FAILED)
    assert {S.DRAFT, S.PENDING_APPROVAL} == OPEN_STATUSES


def test_terminal_states() -> None:
    assert {s for s in S if is_terminal(s)} == {
        S.APPLIED,
        S.DENIED,
        S.CANCELLED,
        S.EXPIRED,
        S.FAILED,
    }


@pytest.mark.parametrize(
    ("current", "target"),
    [(S.DRAFT, S.APPLIED), (S.APPLIED, S.CANCELLED), (S.DENIED, S.APPROVED), (S.APPROVED, S.DRAFT)],
)
def test_forbidden_moves_raise_an_owner_readable_error(current: S, target: S) -> None:
    with pytest.raises(InvalidTransition) as caught:
        check_transition(current, target)
    assert isinstance(caught.value, UserFacingError)
    assert current.value.replace("_", " ") in caught.value.message


@given(st.lists(st.sampled_from(list(S)), max_size=12))
def test_any_walk_applies_at_most_once_and_ends_when_terminal(targets: list[S]) -> None:
    status, applied, history = S.DRAFT, 0, [S.DRAFT]
    for target in targets:
        if can_transition(status, target):
            status = target
            history.append(status)
            applied += status is S.APPLIED
        else:
            with pytest.raises(InvalidTransition):
                check_transition(status, target)
    assert applied <= 1
    assert len(history) == len(set(history))  # no status is ever re-entered
    for earlier in history[:-1]:
        assert not is_terminal(earlier)


def test_every_status_has_an_entry() -> None:
    assert set(TRANSITIONS) == set(S)
    assert all(targets <= set(S) for targets in TRANSITIONS.values())
