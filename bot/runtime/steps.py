"""Running billing's scheduled use cases on the event loop: the edge's side of
:mod:`billing.jobs.ports`.

A scheduled use case is a synchronous generator. :meth:`StepRunner.run` advances it in a worker
thread (its database work must not block the loop) and answers each request it yields: a
platform's users from :class:`handlers.facts.PlatformFacts`, rendering and sending from the
posting port (``handlers.slack_posting.SlackPosting``), and :class:`billing.jobs.ports.KeepClaim`
by renewing the claim every ``renew_s`` seconds in the background until the use case ends. An
answer that raised is thrown back into the use case, which decides what it means. Nothing here
decides anything about the work itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar, cast

from billing.errors import UserFacingError
from billing.jobs import (
    Claim,
    JobClaims,
    KeepClaim,
    Post,
    Posting,
    PostOutcome,
    ReadUsers,
    Render,
    Request,
    Steps,
    Update,
    Upload,
)
from billing.seats import UsersNeeded
from handlers.facts import PlatformFacts

logger = logging.getLogger(__name__)

T = TypeVar("T")


class StepRunner:
    """Answers a scheduled use case's requests (see the module docstring). ``clock`` returns an
    aware UTC instant; ``renew_s`` is how often a kept claim is renewed, in real seconds
    (default: the claims' :attr:`~billing.jobs.store.JobClaims.renew_every`; shorter when
    ``clock`` runs faster than real time)."""

    def __init__(
        self,
        *,
        posting: Posting,
        claims: JobClaims,
        clock: Callable[[], datetime],
        facts: PlatformFacts | None = None,
        renew_s: float | None = None,
    ) -> None:
        self.posting = posting
        self._claims = claims
        self._clock = clock
        self._facts = facts
        self._renew_s = claims.renew_every.total_seconds() if renew_s is None else renew_s

    async def run(self, steps: Steps[T]) -> T:
        """Run ``steps`` to its end; its outcome."""
        keeping: list[asyncio.Task[None]] = []
        answer: Any = None
        error: Exception | None = None
        try:
            while True:
                request, done, outcome = await asyncio.to_thread(_advance, steps, answer, error)
                if done:
                    return cast(T, outcome)
                answer, error = None, None
                try:
                    answer = await self._answer(request, keeping)
                except Exception as failed:  # the use case decides what it means
                    error = failed
        finally:
            # Cancelled while a step runs in its thread, the use case cannot be closed: it ends
            # that step there, and its claim, no longer renewed, is taken over once stale.
            with contextlib.suppress(ValueError):
                steps.close()
            for task in keeping:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def _answer(self, request: Request | None, keeping: list[asyncio.Task[None]]) -> Any:
        match request:
            case KeepClaim(claim=claim):
                keeping.append(asyncio.create_task(self._keep(claim)))
                return None
            case ReadUsers(account_id=account_id, products=products):
                if self._facts is None:
                    raise RuntimeError("these jobs read no platform")
                return await self._facts.listings([UsersNeeded(account_id, p) for p in products])
            case Render(view=view):
                return self.posting.render(view)
            case Post(team_id=team, channel_id=channel, message=message, thread_ts=thread_ts):
                return await self.posting.post(team, channel, message, thread_ts=thread_ts)
            case Update(team_id=team, channel_id=channel, ts=ts, message=message):
                return await self.posting.update(team, channel, ts, message)
            case Upload(team_id=team, channel_id=channel, thread_ts=thread_ts, chart=chart):
                return await self.posting.upload(team, channel, thread_ts=thread_ts, chart=chart)
        raise TypeError(f"not a request: {request!r}")

    async def _keep(self, claim: Claim) -> None:
        """Renew ``claim`` every ``renew_s`` (this process is alive and working on it, however
        long Slack or a platform takes)."""
        while True:
            await asyncio.sleep(self._renew_s)
            try:
                if await asyncio.to_thread(self._claims.renew, claim, at=self._clock()) is None:
                    return  # taken over: the use case finds out at its next step and stops
            except Exception as error:  # the database is unreachable: try again next time
                logger.warning(
                    "Could not renew the claim on %s %s (%s)",
                    claim.job_name,
                    claim.run_key,
                    type(error).__name__,
                )


def _advance(
    steps: Steps[T], answer: Any, error: Exception | None
) -> tuple[Request | None, bool, T | None]:
    """One step of ``steps`` (sent ``answer``, or thrown ``error``): the next request, or that it
    ended with its outcome. (A generator's end is a ``StopIteration``, which cannot cross into
    the event loop, so it is turned into a value here, in the worker thread.)"""
    try:
        request = steps.throw(error) if error is not None else steps.send(answer)
    except StopIteration as ended:
        return None, True, ended.value
    return request, False, None


def log_outcome(outcome: PostOutcome | None) -> None:
    """Tell the log what a run did: the one place scheduled work's outcomes are logged."""
    if outcome is None:
        return
    if outcome.status == "failed":
        # An expected error's words are the detail; anything else's traceback goes with it.
        unexpected = None if isinstance(outcome.cause, UserFacingError) else outcome.cause
        logger.error("%s %s: %s", outcome.job, outcome.run_key, outcome.detail, exc_info=unexpected)
    elif outcome.status == "skipped":
        logger.warning("Skipped the %s %s: %s", outcome.job, outcome.run_key, outcome.detail)
    elif outcome.status == "taken_over":
        logger.warning("Stopped the %s %s: %s", outcome.job, outcome.run_key, outcome.detail)
    elif outcome.status in ("posted", "updated", "done"):
        logger.info("%s %s: %s", outcome.job, outcome.run_key, outcome.detail)
