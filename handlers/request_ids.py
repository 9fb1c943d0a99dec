"""One id per Slack interaction, carried through everything the interaction causes.

``seatbot serve`` opens a :class:`RequestScope` when a signed request arrives
(:func:`begin_request`) and keeps it in a context variable. asyncio copies the context into
every task created while it is set, and ``asyncio.to_thread`` into the worker thread, so the
listener Bolt runs after the ack, the billing use case in its thread and the platform calls
(their retries included) all see the same scope: the log formatter prints its id on every line,
and the one generic apology shows that id as its reference (:func:`new_reference`), so an
operator finds every line of the failed request from what the user was shown.
"""

from __future__ import annotations

import secrets
import time
from contextvars import ContextVar, Token
from dataclasses import dataclass, field

_SCOPE: ContextVar[RequestScope | None] = ContextVar("seatbot_request", default=None)


def mint_request_id() -> str:
    """A fresh id: 12 hexadecimal characters (48 random bits)."""
    return secrets.token_hex(6)


@dataclass
class RequestScope:
    """One Slack interaction (or one scheduled tick) being handled.

    ``kind`` is what it is (``slash_command``, ``block_actions``…); ``started`` its arrival
    (``time.perf_counter()`` seconds); ``failed`` whether it ended in the generic apology;
    ``listeners_started`` how many listeners Bolt started for it.
    """

    request_id: str = field(default_factory=mint_request_id)
    kind: str = "unknown"
    started: float = field(default_factory=time.perf_counter)
    failed: bool = False
    listeners_started: int = 0


def current_scope() -> RequestScope | None:
    """The interaction being handled here, or ``None`` outside one."""
    return _SCOPE.get()


def current_request_id() -> str | None:
    """The id of the interaction being handled here, or ``None`` outside one."""
    scope = _SCOPE.get()
    return None if scope is None else scope.request_id


def begin_request(scope: RequestScope | None = None) -> Token[RequestScope | None]:
    """Make ``scope`` (a fresh one by default) the current one; returns the token
    :func:`end_request` takes to restore the previous one."""
    return _SCOPE.set(scope or RequestScope())


def end_request(token: Token[RequestScope | None]) -> None:
    """Restore the scope that was current before :func:`begin_request`."""
    _SCOPE.reset(token)


def new_reference() -> str:
    """The reference to show with the generic apology, called when something unexpected
    failed: the current request's id (the request is marked failed), so that it finds every
    log line of the request; a fresh id outside a request."""
    scope = _SCOPE.get()
    if scope is None:
        return mint_request_id()
    scope.failed = True
    return scope.request_id
