"""The one error tree: every error a person may see carries a message written for them.

Everything that is not a :class:`UserFacingError` is a bug or an outage: the Slack edge logs it
with a reference id and shows a generic message instead of ``str(exception)``. The platform
clients' errors (``platforms.errors.PlatformError``) are part of this tree too. This module
imports only the standard library, so every layer may use it.
"""

from __future__ import annotations

from collections.abc import Sequence


class UserFacingError(Exception):
    """An error whose ``message`` is safe and meant to be shown to the person who asked."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotAuthorised(UserFacingError):
    """The Slack user may not do this on this account (wrong role, or not their request).

    ``contacts`` are the Slack user ids (in the caller's workspace) who can help: the owners
    to ask, for example. The message never includes any of the account's data.
    """

    def __init__(self, message: str, contacts: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.contacts = tuple(contacts)


#: What a caller without a role in an account is told, whatever they asked of it: nothing about
#: the account (not its name, not who owns or approves it), so it is the same for every account
#: and for none.
NO_ROLE = (
    "You hold no role in a Seatbot account this could be about, so you can't see, change or "
    "approve anything here. Whoever runs Seatbot for your team can add you."
)


class NotFound(UserFacingError):
    """The account, subscription or seat-change request does not exist (for this caller)."""


#: What anyone is told about a seat-change request they may not know of, or that is gone.
REQUEST_GONE = "This seat change no longer exists."


class InvalidSeatCount(UserFacingError):
    """A requested seat count is negative, too large, or equal to the current count."""


class InvalidInput(UserFacingError):
    """Something the person typed cannot be used (too long, malformed)."""


class InvalidTransition(UserFacingError):
    """The seat-change request is no longer in a state that allows this step."""


class QuoteUnavailable(UserFacingError):
    """No quote can be made at this instant (outside the subscription's life)."""
