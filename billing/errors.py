"""The one error tree: one root, and every error a person may see carries a message for them.

::

    SeatbotError                  the root: every error Seatbot raises on purpose
    ├── UserFacingError           ``message`` is safe and written for whoever sees it
    │   ├── NotAuthorised, NotFound, InvalidSeatCount, InvalidTransition, QuoteUnavailable, …
    │   ├── InvalidInput          what was typed or given cannot be used (an option, a file, …)
    │   ├── ConfigurationError    what the operator configured cannot be used
    │   └── Failure               something Seatbot relies on failed, not the input
    │       ├── PlatformError     (platforms.errors) a platform could not say who exists
    │       └── DecryptionError   a stored secret cannot be decrypted
    └── (internal signals)        a lost compare-and-set, a bad amount or period, … never shown

Each boundary maps the tree in one place: Slack (``handlers.errors``), the CLI
(``bot.cli.errors``: exit status 1 for a :class:`Failure`, 2 for any other
:class:`UserFacingError`), HTTP (``bot.web.asgi``, through ``handlers.errors``), the scheduled
work (``billing.jobs.service.failure_reason``, logged by ``bot.runtime.steps``). Anything that
is not a :class:`UserFacingError` is a bug or an outage: it is logged with a reference id and
shown as the one generic apology, never as ``str(exception)``. This module imports only the
standard library, so every layer may use it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class SeatbotError(Exception):
    """The root of every error Seatbot raises on purpose (``except SeatbotError`` catches them
    all, and nothing from a library or a bug)."""


class UserFacingError(SeatbotError):
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
    """Something the person typed or gave cannot be used (too long, malformed, out of range)."""


class InvalidTransition(UserFacingError):
    """The seat-change request is no longer in a state that allows this step."""


class QuoteUnavailable(UserFacingError):
    """No quote can be made at this instant (outside the subscription's life)."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the operator's accounts file: where (1-based line) and which field.
    A problem with the file as a whole (it cannot be read) has line 0 and no field."""

    line: int
    field: str
    message: str

    def __str__(self) -> str:
        if self.line == 0 and not self.field:
            return self.message
        return f"line {self.line}: {self.field}: {self.message}"


class ConfigurationError(UserFacingError):
    """What the operator configured cannot be used: an environment variable (the message starts
    with its name), the accounts file (``problems``: every problem with its line and field, one
    per line of the message), a platform connection, the Slack settings, the encryption keys.
    The message says what to fix and never holds a secret."""

    def __init__(self, message: str, *, problems: Sequence[Problem] = ()) -> None:
        super().__init__(message)
        self.problems = tuple(problems)

    @classmethod
    def of(cls, problems: Sequence[Problem]) -> ConfigurationError:
        """The error listing ``problems`` (by line, then field), one per line."""
        ordered = sorted(problems, key=lambda p: (p.line, p.field))
        return cls("\n".join(str(problem) for problem in ordered), problems=ordered)

    def in_file(self, name: str) -> ConfigurationError:
        """This error with each of its lines prefixed with ``name`` (the file it is about)."""
        lines = self.message.splitlines() or [""]
        return ConfigurationError(
            "\n".join(f"{name}: {line}" for line in lines), problems=self.problems
        )


class Failure(UserFacingError):
    """Something Seatbot relies on failed (a platform, the database, a stored secret, a demo
    step): nothing the person typed can fix it, though trying again later may."""


class DecryptionError(Failure):
    """A stored secret (a Slack token, platform credentials, a billing webhook's secret or URL)
    cannot be decrypted with any configured key, or is not what was stored. The message names
    whose secret it is, never a key, a ciphertext or a value."""
