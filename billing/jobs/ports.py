"""The posting port of scheduled work, and the requests a scheduled use case makes of the edge.

Scheduled use cases (:mod:`billing.reports.posting`, :mod:`billing.approvals.reminders`) are
synchronous generators in the sans-I/O manner of h11: they claim their run, decide every step
and write every record themselves, and *yield* a request whenever they need the world, to be
sent its answer (``answer = yield Post(...)``). So billing never awaits and does no I/O; the edge
(``bot.runtime.steps``) answers with :class:`Posting`, which ``handlers`` implements (render with
its views, send through Slack), and with the platforms. A request the edge could not carry out
is thrown back in at the ``yield`` (:class:`PostFailed`: the run fails, to be tried again). A use
case never yields inside a database transaction.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from billing.errors import UserFacingError
from billing.jobs.rules import Claim
from billing.products import Product

T = TypeVar("T")


class PostFailed(UserFacingError):
    """A message could not be posted, updated or uploaded; ``message`` says why, in words for the
    operator (never a token)."""


class NotInChannel(PostFailed):
    """Slack refused a post because the bot is not in ``channel_id`` (``not_in_channel``), or
    cannot see it at all (``channel_not_found``: a private channel it was never invited to, or
    a wrong id). Only someone in the workspace can fix it, by inviting the bot: the run waits
    for that instead of using up its attempts."""

    def __init__(self, message: str, channel_id: str) -> None:
        super().__init__(message)
        self.channel_id = channel_id


@dataclass(frozen=True)
class KeepClaim:
    """Keep ``claim`` alive (renew it regularly) until the use case ends. Answer: ``None``."""

    claim: Claim


@dataclass(frozen=True)
class ReadUsers:
    """Read every user of each of ``products`` of the account, at once. Answer: a
    :class:`billing.users.UserListing` per product, in order."""

    account_id: int
    products: tuple[Product, ...]


@dataclass(frozen=True)
class Render:
    """Render ``view`` (a value saying what to show). Answer: its messages, in order (opaque to
    billing: each is only handed back in a :class:`Post` or :class:`Update`)."""

    view: object


@dataclass(frozen=True)
class Post:
    """Post ``message`` to ``channel_id`` (a user id: their direct messages), in the thread of
    ``thread_ts`` when given. Answer: ``(channel it landed in, its ts)``."""

    team_id: str
    channel_id: str
    message: object
    thread_ts: str | None = None


@dataclass(frozen=True)
class Update:
    """Replace the message at ``ts`` with ``message``. Answer: ``None``."""

    team_id: str
    channel_id: str
    ts: str
    message: object


@dataclass(frozen=True)
class Upload:
    """Draw ``chart`` (a value saying what to draw) and upload it into the thread of
    ``thread_ts``. Answer: the file's id, or ``None`` when this edge draws no charts."""

    team_id: str
    channel_id: str
    thread_ts: str
    chart: object


Request = KeepClaim | ReadUsers | Render | Post | Update | Upload
#: A scheduled use case: yields requests, is sent their answers, returns its outcome ``T``.
Steps = Generator[Request, Any, T]


class Posting(Protocol):
    """What the edge renders and sends for scheduled work (``handlers`` implements it): the
    answers to :class:`Render`, :class:`Post`, :class:`Update` and :class:`Upload`."""

    def render(self, view: object) -> list[object]: ...

    async def post(
        self, team_id: str, channel_id: str, message: object, *, thread_ts: str | None
    ) -> tuple[str, str]: ...

    async def update(self, team_id: str, channel_id: str, ts: str, message: object) -> None: ...

    async def upload(
        self, team_id: str, channel_id: str, *, thread_ts: str, chart: object
    ) -> str | None: ...
