"""The posting port of scheduled work, and the requests a scheduled use case makes of the edge.

Billing's scheduled use cases (the digest and the reconciliation report,
:mod:`billing.reports.posting`; the approvals' reminders, escalations and expiries,
:mod:`billing.approvals.reminders`) are synchronous generators, in the sans-I/O manner of h11:
they claim their run, decide every step and write every record themselves, and whenever they
need the world they *yield* a request and are sent its answer: a platform's users
(:class:`ReadUsers`), messages rendered (:class:`Render`), posted (:class:`Post`) or updated
(:class:`Update`), a chart uploaded (:class:`Upload`), their claim kept alive while the edge
works (:class:`KeepClaim`). So billing never awaits and never does I/O, and the edge
(``bot.runtime.steps``) only answers requests: with :class:`Posting`, which ``handlers``
implements (render with its views, send through Slack), and with the platforms.

A request the edge could not carry out is thrown back into the use case at its ``yield``, which
decides what it means: :class:`PostFailed` (Slack refused, is unreachable, or is not configured)
fails the run, to be tried again. A use case never yields inside a database transaction.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from billing.errors import UserFacingError
from billing.jobs.rules import Claim
from billing.products import Product
from billing.users import UserListing

T = TypeVar("T")


class PostFailed(UserFacingError):
    """A message could not be posted, updated or uploaded; ``message`` says why, in words for the
    operator (never a token)."""


@dataclass(frozen=True)
class KeepClaim:
    """Keep ``claim`` alive (renew it regularly) until the use case ends. Answer: ``None``."""

    claim: Claim


@dataclass(frozen=True)
class ReadUsers:
    """Read every user of each of ``products`` of the account, at once. Answer: a
    :class:`UserListing` per product, in order (complete, or unknown with its reason)."""

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
    """What the edge renders and sends for scheduled work (``handlers`` implements it)."""

    def render(self, view: object) -> list[object]:
        """The messages that show ``view``."""
        ...

    async def post(
        self, team_id: str, channel_id: str, message: object, *, thread_ts: str | None
    ) -> tuple[str, str]:
        """Post ``message``; where it landed and its ts (:class:`PostFailed` when it cannot)."""
        ...

    async def update(self, team_id: str, channel_id: str, ts: str, message: object) -> None:
        """Replace the message at ``ts`` (:class:`PostFailed` when it cannot)."""
        ...

    async def upload(
        self, team_id: str, channel_id: str, *, thread_ts: str, chart: object
    ) -> str | None:
        """Draw and upload ``chart``; its file id, ``None`` without a chart renderer."""
        ...


# Typed ways to make each request: ``ts = yield from post(...)``.


def keep_claim(claim: Claim) -> Steps[None]:
    yield KeepClaim(claim)


def read_users(account_id: int, products: Sequence[Product]) -> Steps[list[UserListing]]:
    listings: list[UserListing] = yield ReadUsers(account_id, tuple(products))
    return listings


def render(view: object) -> Steps[list[object]]:
    messages: list[object] = yield Render(view)
    return messages


def post(
    team_id: str, channel_id: str, message: object, *, thread_ts: str | None = None
) -> Steps[tuple[str, str]]:
    landed: tuple[str, str] = yield Post(team_id, channel_id, message, thread_ts)
    return landed


def update(team_id: str, channel_id: str, ts: str, message: object) -> Steps[None]:
    yield Update(team_id, channel_id, ts, message)


def upload(team_id: str, channel_id: str, thread_ts: str, chart: object) -> Steps[str | None]:
    file_id: str | None = yield Upload(team_id, channel_id, thread_ts, chart)
    return file_id
