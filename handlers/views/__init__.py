"""Block Kit for Seatbot, built only from ``slack_sdk.models`` objects by pure functions.

Each function takes plain values (billing's views and outcomes, platform users) and returns a
:class:`Message` (fallback text + blocks) or a ``View``. Nothing here does I/O. Limits respected
everywhere: 50 blocks a message, 100 a modal, 24-character titles, 3000 characters of section
text and of ``private_metadata``; long user lists end in "…and N more"; everything anyone typed
is escaped and clipped.
"""

from handlers.views.modal import ModalModel, ProductChoice, seat_change_modal
from handlers.views.prompts import (
    already_applied_message,
    applied_message,
    blocked_decrease_message,
    cancelled_message,
    closed_message,
    confirmation_prompt,
    outcome_message,
    platform_unknown_message,
)
from handlers.views.replies import (
    error_message,
    help_message,
    history_message,
    status_message,
    unexpected_error_message,
    unrecognised_message,
)
from handlers.views.text import Message, escape, users_list

__all__ = [
    "Message",
    "ModalModel",
    "ProductChoice",
    "already_applied_message",
    "applied_message",
    "blocked_decrease_message",
    "cancelled_message",
    "closed_message",
    "confirmation_prompt",
    "error_message",
    "escape",
    "help_message",
    "history_message",
    "outcome_message",
    "platform_unknown_message",
    "seat_change_modal",
    "status_message",
    "unexpected_error_message",
    "unrecognised_message",
    "users_list",
]
