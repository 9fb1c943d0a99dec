"""The Slack edge's one mapping of the error tree (:mod:`billing.errors`).

An expected error (:class:`billing.errors.UserFacingError`) is shown as its message;
anything else is logged with its traceback under a reference id (the request's,
:func:`new_reference`) and becomes the one generic apology showing that id, never
``str(exception)``. The desk calls (:func:`user_facing`), Bolt's error handler and the HTTP
route's last resort (:mod:`bot.web.bolt_app`, :mod:`bot.web.asgi`) all answer with
:func:`answer_for`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from typing import TypeVar

from billing.errors import UserFacingError
from handlers import views
from handlers.request_ids import new_reference
from handlers.views import Message

logger = logging.getLogger(__name__)

R = TypeVar("R")


def answer_for(
    error: BaseException, handling: str = "a Slack request", *, typed: str | None = None
) -> Message:
    """What Slack shows for ``error`` (raised while ``handling`` something, for the log;
    ``typed``: the ``/seats`` text that led to it, repeated in a hint)."""
    if isinstance(error, UserFacingError):
        return views.error_message(error, typed=typed)
    reference = new_reference()
    logger.error(
        "Unexpected %s while handling %s (reference %s)",
        type(error).__name__,
        handling,
        reference,
        exc_info=error,
    )
    return views.unexpected_error_message(reference)


async def user_facing(work: Awaitable[R], *, typed: str | None = None) -> R | Message:
    """Await ``work``; anything it raises becomes :func:`answer_for`'s message."""
    try:
        return await work
    except Exception as error:
        return answer_for(error, typed=typed)
