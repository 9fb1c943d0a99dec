"""The rules of a claimed run (:mod:`billing.jobs.store`), as pure functions: when its claim may
be taken over, how often its holder renews it, and what a takeover resumes from.

A holder renews its claim every :func:`renew_every` while it works, so only a run whose holder
stopped renewing (it crashed, or could not reach the database) for ``stale_after`` is taken
over. Every message a run posts is recorded under the run as soon as Slack answers, whoever
holds the claim by then (:func:`with_posted`): a part posted is a fact. The holder reads what is
recorded before each part (:func:`posted_part`) and updates a recorded part instead of posting
it again. No clock and no database here.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any


class JobStatus(enum.StrEnum):
    """A scheduled job run's progress (see :mod:`billing.jobs.store`)."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"  # too late to be worth doing; recorded so it is logged once


#: The run's detail key listing its top-level messages; the first is also ``message_ts``.
MAIN_PARTS = "parts"


def may_take_over(
    status: JobStatus,
    attempts: int,
    alive_at: datetime,
    at: datetime,
    *,
    stale_after: timedelta,
    max_attempts: int,
    force: bool = False,
) -> bool:
    """Whether a run stored as ``status`` after ``attempts`` claims, whose holder last renewed
    its claim at ``alive_at``, may be claimed at ``at``: a failed run while it has attempts left
    (or ``force``); a running one whose holder has not renewed it for more than ``stale_after``;
    a succeeded one only with ``force``; a skipped one never."""
    if status is JobStatus.FAILED:
        return force or attempts < max_attempts
    if status is JobStatus.RUNNING:
        return at - alive_at > stale_after
    return force and status is JobStatus.SUCCEEDED


def renew_every(stale_after: timedelta) -> timedelta:
    """How often a holder renews its claim: three times within ``stale_after``, so one late or
    failed renewal does not make a live holder look dead."""
    return stale_after / 3


def posted_part(
    detail: Mapping[str, Any], key: str, index: int | None = None, *, message_ts: str | None = None
) -> str | None:
    """What the run has recorded as posted under ``key``: part ``index`` of a list, or the one
    value when ``index`` is ``None`` (``None``: nothing recorded, post it). The first of
    :data:`MAIN_PARTS` is ``message_ts`` for a run recorded before parts were listed."""
    value = detail.get(key)
    if index is None:
        return None if value is None else str(value)
    parts = value if isinstance(value, list) else []
    if not parts and key == MAIN_PARTS and index == 0:
        return message_ts
    found = parts[index] if index < len(parts) else None
    return None if found is None else str(found)


def with_posted(
    detail: Mapping[str, Any], key: str, posted: str, index: int | None = None
) -> tuple[dict[str, Any], str]:
    """``detail`` with ``posted`` recorded under ``key`` (as part ``index`` of a list, or as the
    one value when ``index`` is ``None``), unless something is recorded there already: the first
    record wins, and a later one for the same part is a duplicate that nobody resumes from.
    Returns the new detail and what is recorded for that part now."""
    kept = posted_part(detail, key, index)
    if kept is not None:
        return dict(detail), kept
    if index is None:
        return dict(detail, **{key: posted}), posted
    value = detail.get(key)
    parts: list[str | None] = list(value) if isinstance(value, list) else []
    parts.extend([None] * (index + 1 - len(parts)))
    parts[index] = posted
    return dict(detail, **{key: parts}), posted


def main_message(detail: Mapping[str, Any]) -> str | None:
    """The run's first top-level message (stored as its ``message_ts``), if recorded."""
    return posted_part(detail, MAIN_PARTS, 0)
