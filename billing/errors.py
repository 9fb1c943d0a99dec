"""Errors an account owner may see, as types with a message written for them.

Everything that is not a :class:`UserFacingError` is a bug or an outage: the Slack edge logs it
with a reference id and shows a generic message instead of ``str(exception)``.
"""

from __future__ import annotations


class UserFacingError(Exception):
    """An error whose ``message`` is safe and meant to be shown to an account owner."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotAuthorised(UserFacingError):
    """The Slack user may not do this on this account (wrong role, or not their request)."""


class NotFound(UserFacingError):
    """The account, subscription or seat-change request does not exist (for this caller)."""


class InvalidSeatCount(UserFacingError):
    """A requested seat count is negative, too large, or equal to the current count."""


class InvalidTransition(UserFacingError):
    """The seat-change request is no longer in a state that allows this step."""


class QuoteUnavailable(UserFacingError):
    """No quote can be made at this instant (for example, before the current billing period)."""
