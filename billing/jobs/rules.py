"""The rules of scheduled work, as pure functions over plain values: when a run is due, late,
skipped, retried or taken over; how often its holder renews its claim; what a takeover resumes
from; and what the operator is told about a run. No clock and no database here.

A run is claimed in the database before it is done (:mod:`billing.jobs.store`). A holder renews
its claim every :func:`renew_every` while it works, so only a run whose holder stopped renewing
(it crashed, or could not reach the database) for ``stale_after`` is taken over
(:func:`may_take_over`, the one place that says when a run may be claimed again: a retry of a
failure, a takeover, ``--force``). Every message a run posts is recorded under the run as soon as
Slack answers, whoever holds the claim by then (:func:`with_posted`): a part posted is a fact.
The holder reads what is recorded before each part (:func:`posted_part`) and updates a recorded
part instead of posting it again.

A daily run (the digest) is due at a local wall-clock time (:func:`due_days`); what a tick does
with it is :func:`start_step`: claim it, skip it (never started and more than
:data:`SKIP_AFTER` late: recorded, so it is logged once), or leave it.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from billing.errors import UserFacingError
from billing.formatting import format_instant

#: The run's detail key listing its top-level messages; the first is also ``message_ts``.
MAIN_PARTS = "parts"
#: A daily run due more than this long ago, never started, is skipped (and logged) instead.
SKIP_AFTER = timedelta(days=1)
#: How many local days back a tick looks for a daily run not done yet (today included).
DAYS_BACK = 3
#: The run's detail key saying it waits for the bot to be invited into its channel.
WAITING_FOR_CHANNEL = "waiting_for_channel"
#: How often a run waiting for the bot to be invited into its channel is tried again.
CHANNEL_RETRY_EVERY = timedelta(minutes=10)


class JobStatus(enum.StrEnum):
    """A scheduled job run's progress (see :mod:`billing.jobs.store`)."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"  # too late to be worth doing; recorded so it is logged once


@dataclass(frozen=True)
class Claim:
    """The right to do one run now. ``attempt`` is 1 for the first claim; ``late`` whether it
    started more than the grace after ``scheduled_for``; the rest is what earlier attempts
    recorded (``None``/empty on a first attempt)."""

    id: int
    job_name: str
    run_key: str
    account_id: int | None
    scheduled_for: datetime
    attempt: int
    late: bool
    channel_id: str | None
    message_ts: str | None
    detail: dict[str, Any]
    previous_status: JobStatus | None


@dataclass(frozen=True)
class JobRunView:
    """A claimed (or finished) run as stored."""

    id: int
    job_name: str
    run_key: str
    account_id: int | None
    scheduled_for: datetime
    status: JobStatus
    attempts: int
    late: bool
    started_at: datetime
    finished_at: datetime | None
    channel_id: str | None
    message_ts: str | None
    detail: dict[str, Any]
    #: When its holder last renewed the claim (``None``: never, since ``started_at``).
    renewed_at: datetime | None = None


@dataclass(frozen=True)
class Posted:
    """What recording a posted part did: ``recorded`` is what the run holds for that part now
    (the given one, or the one recorded first), ``held`` whether the claim still is."""

    recorded: str
    held: bool


class ClaimLost(UserFacingError):
    """The run's claim was taken over (this process was thought dead): stop working on it."""

    def __init__(self) -> None:
        super().__init__("taken over by another process")


@dataclass(frozen=True)
class PostOutcome:
    """What one attempt at a run did, in words for the operator.

    ``status``: ``posted``, ``updated`` (``force``), ``already_posted``, ``in_progress`` (another
    process holds the claim), ``taken_over`` (by another process, thought this one dead),
    ``no_channel``, ``skipped`` (too late), ``done`` (a step done) or ``failed``; ``cause`` is
    the unexpected error behind a failure, for the log (never shown)."""

    account: str
    job: str
    run_key: str
    status: str
    detail: str
    late: bool = False
    message_ts: str | None = None
    chart_file_id: str | None = None
    messages: int = 0
    cause: BaseException | None = field(default=None, compare=False, repr=False)

    @property
    def ok(self) -> bool:
        """The run did what was asked, or had been done: not failed, nor waiting to be let into
        its channel (nothing was posted; the scheduler posts it once the bot is invited)."""
        return self.status not in ("failed", "waiting_for_channel", "still_waiting")


def may_take_over(
    run: JobRunView, at: datetime, *, stale_after: timedelta, max_attempts: int, force: bool = False
) -> bool:
    """Whether the stored ``run`` may be claimed again at ``at``: a failed run while it has
    attempts left (or ``force``); a running one whose holder has not renewed its claim for more
    than ``stale_after``; a succeeded one only with ``force``; a skipped one never."""
    if run.status is JobStatus.FAILED and run.detail.get(WAITING_FOR_CHANNEL):
        # Waiting to be invited: no attempt limit (nothing is dropped), a look every so often.
        return force or at - (run.finished_at or run.started_at) >= CHANNEL_RETRY_EVERY
    if run.status is JobStatus.FAILED:
        return force or run.attempts < max_attempts
    if run.status is JobStatus.RUNNING:
        return at - (run.renewed_at or run.started_at) > stale_after
    return force and run.status is JobStatus.SUCCEEDED


def renew_every(stale_after: timedelta) -> timedelta:
    """How often a holder renews its claim: three times within ``stale_after``, so one late or
    failed renewal does not make a live holder look dead."""
    return stale_after / 3


class Start(enum.Enum):
    """What a tick does with a run that may be due."""

    CLAIM = "claim"  # due: the first time, a retry of a failure, or a takeover
    SKIP = "skip"  # never started and more than SKIP_AFTER late
    WAIT = "wait"  # not due yet, being done, done, skipped, or out of attempts


def start_step(
    run: JobRunView | None,
    due_at: datetime,
    at: datetime,
    *,
    stale_after: timedelta,
    max_attempts: int,
) -> Start:
    """What to do at ``at`` with a run due at ``due_at``, stored as ``run`` (``None``: never
    started): claim it when it is due and may be claimed (:func:`may_take_over`), skip it when it
    was never started and is more than :data:`SKIP_AFTER` late, otherwise leave it."""
    if due_at > at:
        return Start.WAIT
    if run is not None:
        taken = may_take_over(run, at, stale_after=stale_after, max_attempts=max_attempts)
        return Start.CLAIM if taken else Start.WAIT
    return Start.SKIP if at - due_at > SKIP_AFTER else Start.CLAIM


def due_days(
    local_at: time, tz: ZoneInfo, at: datetime, *, since: datetime | None = None
) -> list[tuple[date, datetime]]:
    """The local days (today in ``tz`` and the :data:`DAYS_BACK` − 1 before it, oldest first)
    whose run at wall-clock ``local_at`` is due by ``at``, each with when it was due (UTC).

    ``since`` is when the account was loaded: a run that came due before it is not owed (a newly
    loaded account stays quiet until its first run time after loading; nothing is posted late
    or recorded as skipped for days it did not exist)."""
    today = at.astimezone(tz).date()
    days = (today - timedelta(days=back) for back in range(DAYS_BACK - 1, -1, -1))
    due = [(day, datetime.combine(day, local_at, tzinfo=tz).astimezone(UTC)) for day in days]
    return [
        (day, due_at) for day, due_at in due if due_at <= at and (since is None or due_at >= since)
    ]


def daily_run_key(name: str, day: date) -> str:
    """The run key of ``name``'s daily run for local ``day``: ``acme/2026-11-29``."""
    return f"{name}/{day.isoformat()}"


#: The job under which a shared reconciliation claims each account (``seatbot reconcile --share``).
SHARED_RECONCILIATION = "shared reconciliation"
#: The longest name of a shared reconciliation (with an account's name, a run key holds 200).
SHARE_NAME_LIMIT = 100


def share_name_problem(share: str) -> str | None:
    """What is wrong with ``share`` as the name of a shared reconciliation, or ``None``."""
    if not share.strip() or len(share) > SHARE_NAME_LIMIT or "/" in share:
        return f"a share's name is 1 to {SHARE_NAME_LIMIT} characters, without “/”"
    return None


def share_run_key(share: str, account: str) -> str:
    """The run key of ``account`` in the shared reconciliation ``share``: ``2026-12-07/acme``.
    Every process reconciling with the same ``share`` claims each account under it, so the
    accounts are split between them and none is reconciled twice."""
    return f"{share}/{account}"


def daily_share(at: datetime, utc_time: time) -> str | None:
    """The share of the scheduled shared reconciliation due at ``at``: the UTC day's date
    (``2026-12-07``) once ``utc_time`` has passed that day, else ``None``."""
    now = at.astimezone(UTC)
    return now.date().isoformat() if now.time() >= utc_time else None


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


# -- what the operator is told ------------------------------------------------------------------


def not_claimed(
    account: str, job: str, run_key: str, what: str, run: JobRunView | None
) -> PostOutcome:
    """Why ``what`` (``digest``…) could not be claimed, from its stored ``run``."""
    if run is None:
        return PostOutcome(account, job, run_key, "in_progress", f"{what} not claimed")
    if run.status is JobStatus.SUCCEEDED:
        detail = f"already posted: today's {what} is in {run.channel_id} (--force updates it)"
        return PostOutcome(
            account, job, run_key, "already_posted", detail, run.late, run.message_ts
        )
    if run.status is JobStatus.SKIPPED:
        return PostOutcome(account, job, run_key, "skipped", f"{what} skipped: too late", True)
    error = run.detail.get("error") or "unknown error"
    if run.status is JobStatus.FAILED and run.detail.get(WAITING_FOR_CHANNEL):
        minutes = int(CHANNEL_RETRY_EVERY.total_seconds() // 60)
        detail = (
            f"{what} not posted yet: {error.rstrip('.')}; it is posted once Seatbot is invited "
            f"there (looked at every {minutes} minutes; --force tries now)"
        )
        return PostOutcome(account, job, run_key, "still_waiting", detail)
    if run.status is JobStatus.FAILED:
        detail = f"{what} failed {run.attempts} times (last: {error}); --force tries again"
        return PostOutcome(account, job, run_key, "failed", detail)
    return PostOutcome(
        account, job, run_key, "in_progress", f"another process is posting this {what} now"
    )


def failed(account: str, claim: Claim, what: str, reason: str, *, max_attempts: int) -> PostOutcome:
    """``what`` was not done under ``claim`` because of ``reason``; whether it is tried again."""
    left = max_attempts - claim.attempt
    retry = f"it will be tried again ({left} tries left)" if left > 0 else "giving up"
    detail = f"{what} not posted: {reason.rstrip('.')}; {retry}"
    return PostOutcome(account, claim.job_name, claim.run_key, "failed", detail, claim.late)


def waiting_for_channel(
    account: str, claim: Claim, what: str, reason: str, *, first: bool, told: int
) -> PostOutcome:
    """``what`` was not posted because the bot is not in the account's channel: the run waits
    for the invitation (tried again every :data:`CHANNEL_RETRY_EVERY`, never given up). Status
    ``waiting_for_channel`` the ``first`` time (the operator's one line; ``told`` owners were
    sent a DM), ``still_waiting`` on each later look."""
    minutes = int(CHANNEL_RETRY_EVERY.total_seconds() // 60)
    owners = f"; {told} owner{'s' if told != 1 else ''} told by DM" if first else ""
    detail = (
        f"{what} not posted: {reason.rstrip('.')}{owners}; it is posted once Seatbot is invited "
        f"there (looked at every {minutes} minutes)"
    )
    status = "waiting_for_channel" if first else "still_waiting"
    return PostOutcome(account, claim.job_name, claim.run_key, status, detail, claim.late)


def skipped(
    account: str, job: str, run_key: str, due_at: datetime, tz: ZoneInfo
) -> tuple[str, PostOutcome]:
    """The reason recorded for a daily run skipped as too late (its due time shown in the
    account's zone ``tz``), and the outcome saying so."""
    reason = f"due {format_instant(due_at, tz)}, more than a day ago; Seatbot was not running then"
    return reason, PostOutcome(account, job, run_key, "skipped", reason, late=True)


def no_channel(account: str, job: str, run_key: str) -> PostOutcome:
    """Nothing can be posted for ``account``: it has no report channel."""
    detail = (
        f"{account} has no slack.channel_id, so its digest and reports have nowhere to go; "
        "add one to the accounts file"
    )
    return PostOutcome(account, job, run_key, "no_channel", detail)
