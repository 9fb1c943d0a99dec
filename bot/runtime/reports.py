"""Composing the report jobs (:class:`bot.runtime.jobs.ReportJobs`) from the settings, for
``seatbot serve``'s scheduler and for ``seatbot reconcile|digest``.

Also the simulated clock (``SEATBOT_CLOCK_START``/``SEATBOT_CLOCK_SPEED``) that tests and demos
use to make days pass in seconds; without it the clock is the real one.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from pydantic import ValidationError
from sqlalchemy.orm import Session, sessionmaker

from billing.jobs import JobClaims
from billing.reports import Reports
from bot.runtime.jobs import DEFAULT_CONCURRENCY, ReportJobs
from bot.runtime.platform_directory import PlatformDirectory
from bot.runtime.settings import Settings, settings_error
from bot.runtime.trend_chart import render_trend_png
from handlers.facts import PlatformFacts
from handlers.slack_pacing import PacingLimits, SlackPacing
from handlers.slack_posting import SlackPoster, SlackPosting

if TYPE_CHECKING:
    from slack_sdk.oauth.installation_store.async_installation_store import (
        AsyncInstallationStore,
    )

    from bot.runtime.slack_clients import SlackClients

Clock = Callable[[], datetime]


def real_clock() -> datetime:
    """The current instant (aware UTC)."""
    return datetime.now(UTC)


def simulated_clock(start: datetime, speed: float) -> Clock:
    """A clock that reads ``start`` now and runs ``speed`` times faster than real time."""
    began = time.monotonic()

    def now() -> datetime:
        return start + timedelta(seconds=(time.monotonic() - began) * speed)

    return now


def clock_setting(environ: Mapping[str, str] | None = None) -> Clock:
    """The clock ``SEATBOT_CLOCK_START``/``SEATBOT_CLOCK_SPEED`` ask for (the real one when
    unset), read on their own so that a command needs no other setting;
    :func:`bot.runtime.settings.bad_setting` names a bad value."""
    env = os.environ if environ is None else environ
    start = (env.get("SEATBOT_CLOCK_START") or "").strip()
    if not start:
        return real_clock
    try:
        settings = Settings.model_validate(
            {
                "seatbot_clock_start": start,
                "seatbot_clock_speed": env.get("SEATBOT_CLOCK_SPEED") or "1",
            }
        )
    except ValidationError as error:
        raise settings_error(error) from None
    return clock_from_settings(settings) or real_clock


def clock_from_settings(settings: Settings) -> Clock | None:
    """The simulated clock the settings ask for, or ``None`` for the real one."""
    if settings.seatbot_clock_start is None:
        return None
    start = datetime.fromisoformat(settings.seatbot_clock_start.replace("Z", "+00:00"))
    return simulated_clock(start.astimezone(UTC), settings.seatbot_clock_speed)


def clock_speed(settings: Settings) -> float:
    """How many times faster than real time the settings' clock runs (1 for the real one)."""
    return 1.0 if settings.seatbot_clock_start is None else settings.seatbot_clock_speed


@dataclass
class ReportsRuntime:
    """The report jobs, the posting port they (and the approvals' jobs) send through, and what
    they own (close with :meth:`aclose`)."""

    jobs: ReportJobs
    posting: SlackPosting
    slack: SlackClients | None

    async def aclose(self) -> None:
        if self.slack is not None:
            await self.slack.aclose()


def build_reports(
    settings: Settings,
    sessions: sessionmaker[Session],
    directory: PlatformDirectory,
    *,
    clock: Clock,
    installation_store: AsyncInstallationStore | None = None,
    source: str = "schedule",
    concurrency: int | None = None,
    claims: JobClaims | None = None,
) -> ReportsRuntime:
    """The report jobs over ``sessions`` and ``directory``, posting with the settings' Slack
    token (or the installation store), paced by the settings' workspace budget. ``claims``
    replaces the job claims made from the settings (``seatbot serve`` passes counted ones)."""
    bot_token = settings.slack_bot_token
    slack: SlackClients | None = None
    poster: SlackPoster | None = None
    if bot_token is not None or installation_store is not None:
        # Imported here: slack_sdk's client loads aiohttp, which a report that posts nothing
        # (``seatbot reconcile`` without --post) need not pay for at start-up.
        from bot.runtime.slack_clients import SlackClients

        slack = SlackClients(
            api_url=settings.slack_api_url,
            bot_token=None if bot_token is None else bot_token.get_secret_value(),
            installation_store=installation_store,
        )
        pacing = SlackPacing(
            PacingLimits(
                workspace_per_minute=settings.seatbot_slack_workspace_per_minute,
                workspace_burst=settings.seatbot_slack_workspace_burst,
            )
        )
        poster = SlackPoster(slack.client_for, pacing)
    facts = PlatformFacts(
        directory.platform_for,
        deadline_s=settings.seatbot_platform_deadline_seconds,
        recent_ttl_s=0.0,
        platforms_for=directory.platforms_for,
    )
    claims = claims or JobClaims(
        sessions, stale_after=timedelta(seconds=settings.seatbot_job_stale_seconds)
    )
    posting = SlackPosting(poster, chart=render_trend_png)
    jobs = ReportJobs(
        reports=Reports(sessions),
        claims=claims,
        facts=facts,
        clock=clock,
        posting=posting,
        source=source,
        concurrency=concurrency or DEFAULT_CONCURRENCY,
        # Renewed on the jobs' clock: a simulated one that runs faster renews more often.
        renew_s=claims.renew_every.total_seconds() / clock_speed(settings),
    )
    return ReportsRuntime(jobs, posting, slack)
