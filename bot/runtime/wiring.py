"""The composition root of ``seatbot serve``.

:func:`build_runtime` makes everything from the settings: the database, the use cases (counted:
:mod:`bot.web.metered`), the platform directory, the OAuth stores, the Bolt app, the scheduler of
the digests and approval jobs, the billing hand-off's sender (:mod:`bot.webhooks.sender`) and
the ASGI app (:mod:`bot.web.asgi`), whose lifespan starts and stops them. :func:`run_server`
checks the configuration, applies migrations, then serves: over Socket Mode when
``SLACK_APP_TOKEN`` is set, else over HTTP (:mod:`bot.web.server`).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from datetime import time as time_of_day

from slack_bolt.async_app import AsyncApp
from sqlalchemy import Engine
from starlette.applications import Starlette

from billing.events import Outbox
from billing.seats import AccountReads
from bot.runtime.db import make_engine, make_session_factory, upgrade
from bot.runtime.installations import SqlInstallationStore, SqlOAuthStateStore
from bot.runtime.jobs import ApprovalJobs
from bot.runtime.logging_setup import SecretRedactor, configure_logging
from bot.runtime.platform_directory import PlatformDirectory
from bot.runtime.reports import ReportsRuntime, build_reports, clock_from_settings
from bot.runtime.scheduler import ReportScheduler, add_digest_job
from bot.runtime.secrets import cipher_for
from bot.runtime.settings import Settings, oauth_enabled
from bot.web.asgi import build_asgi_app
from bot.web.bolt_app import ListenerRegistrar, build_app, check_configuration
from bot.web.metered import MeteredApprovals, MeteredJobClaims, MeteredSeatChanges
from bot.web.metrics import Metrics
from bot.web.operations import InFlight, Operations, Readiness
from bot.web.responses import ResponseUrls
from bot.web.server import bind_port, serve_http
from bot.webhooks.config import default_destination, retry_schedule
from bot.webhooks.guard import DestinationGuard
from bot.webhooks.notices import OwnerNotifier
from bot.webhooks.sender import SenderOptions, WebhookSender
from handlers.deps import HandlerDeps

logger = logging.getLogger(__name__)


@dataclass
class SlackRuntime:
    """Everything ``seatbot serve`` runs: the Bolt app, its ASGI wrapper and what they own."""

    bolt_app: AsyncApp
    asgi_app: Starlette
    engine: Engine
    platforms: PlatformDirectory
    webhooks: WebhookSender
    reports: ReportsRuntime | None = None
    scheduler: ReportScheduler | None = None
    operations: Operations | None = None
    responses: ResponseUrls | None = None


def _closer(
    directory: PlatformDirectory,
    engine: Engine,
    webhooks: WebhookSender,
    scheduler: ReportScheduler | None = None,
    reports: ReportsRuntime | None = None,
    operations: Operations | None = None,
    *,
    responses: ResponseUrls | None = None,
    deadline_s: float = 0.0,
) -> Callable[[], Awaitable[None]]:
    """The app's shutdown: give the listeners still answering, the scheduler's ticks and the
    digests being posted until ``deadline_s`` seconds from now to finish, then close."""

    async def aclose() -> None:
        try:
            await close_in_turn()
        finally:  # whatever failed above: the replies' session is closed
            if responses is not None:
                await responses.aclose()

    async def close_in_turn() -> None:
        began = time.monotonic()
        end = began + deadline_s
        took: list[str] = []

        def left() -> float:
            return max(0.0, end - time.monotonic())

        def lap(step: str, since: float) -> None:
            took.append(f"{step} {time.monotonic() - since:.1f} s")

        if operations is not None:
            operations.stopping()
            since = time.monotonic()
            if not await operations.in_flight.wait_idle(left()):
                logger.warning(
                    "%d listener(s) still answering after %.0f s; stopping anyway: %s",
                    operations.in_flight.count,
                    deadline_s,
                    ", ".join(operations.in_flight.running()) or "?",
                )
            lap("listeners", since)
        if scheduler is not None:
            since = time.monotonic()
            await scheduler.stop(deadline_s=left())
            lap("scheduled jobs", since)
        since = time.monotonic()
        await webhooks.stop()
        lap("webhooks", since)
        if reports is not None:
            since = time.monotonic()
            try:
                async with asyncio.timeout(left()):
                    await reports.jobs.drain()
            except TimeoutError:
                logger.warning("Reports still being posted after %.0f s; stopping", deadline_s)
            await reports.aclose()
            lap("reports", since)
        await directory.aclose()
        engine.dispose()
        if operations is not None:
            if operations.readiness is not None:
                operations.readiness.dispose()
            operations.metrics.process_exiting()
        logger.info(
            "Shut down in %.1f s (%s)", time.monotonic() - began, ", ".join(took) or "nothing ran"
        )

    return aclose


def _engine_options(settings: Settings) -> dict[str, int]:
    """Pool sizes for a server database (SQLite keeps SQLAlchemy's own choice)."""
    if settings.database_url.startswith("sqlite"):
        return {}
    return {
        "pool_size": settings.seatbot_db_pool_size,
        "max_overflow": settings.seatbot_db_max_overflow,
    }


def _utc_now() -> datetime:
    return datetime.now(UTC)


def build_runtime(
    settings: Settings,
    *,
    redactor: SecretRedactor | None = None,
    register: ListenerRegistrar | None = None,
    clock: Callable[[], datetime] = _utc_now,
    metrics: Metrics | None = None,
) -> SlackRuntime:
    """Compose the app from ``settings`` (database, services, platforms, OAuth stores, and
    the scheduler of the daily digests, started with the ASGI app's lifespan when
    ``SEATBOT_SCHEDULER`` is on), counting into ``metrics`` (a new :class:`Metrics` by
    default; ``runtime.operations.metrics`` holds it).

    Migrations are not applied here; :func:`run_server` does that first.
    """
    metrics = metrics or Metrics()
    default_webhook = default_destination(settings)  # checked before anything is built
    schedule = retry_schedule(settings)
    engine = make_engine(settings.database_url, **_engine_options(settings))
    sessions = make_session_factory(engine)
    cipher = cipher_for(settings)
    directory = PlatformDirectory(sessions, redactor=redactor, cipher=cipher, metrics=metrics)
    quote_ttl = timedelta(seconds=settings.seatbot_quote_ttl_seconds)
    deps = HandlerDeps(
        account_reads=AccountReads(sessions),
        approvals=MeteredApprovals(sessions, metrics=metrics, quote_ttl=quote_ttl),
        seat_changes=MeteredSeatChanges(sessions, metrics=metrics, quote_ttl=quote_ttl),
        platform_for=directory.platform_for,
        clock=clock,
        platform_deadline_s=settings.seatbot_platform_deadline_seconds,
    )
    installation_store = state_store = None
    if oauth_enabled(settings):
        cipher = cipher_for(settings)  # SEATBOT_TOKEN_KEYS, or SQLite's key file
        installation_store = SqlInstallationStore(
            sessions, cipher, client_id=str(settings.slack_client_id)
        )
        state_store = SqlOAuthStateStore(sessions)
    responses = ResponseUrls()
    bolt_app = build_app(
        settings,
        deps,
        installation_store=installation_store,
        state_store=state_store,
        register=register,
        responses=responses,
    )
    # The scheduled digests: claimed in the database, so every replica may run the scheduler.
    stale_after = timedelta(seconds=settings.seatbot_job_stale_seconds)
    claims = MeteredJobClaims(sessions, metrics=metrics, stale_after=stale_after)
    reports = build_reports(
        settings,
        sessions,
        directory,
        clock=clock,
        installation_store=installation_store,
        claims=claims,
    )
    # Approvals' reminders, escalations and expiries: claimed the same way.
    approval_jobs = ApprovalJobs(deps.approvals, claims, reports.posting, clock=clock)
    scheduler: ReportScheduler | None = None
    if settings.seatbot_scheduler:
        scheduler = ReportScheduler(on_lag=metrics.job_lag)
        add_digest_job(
            scheduler, reports.jobs.tick, every_s=settings.seatbot_scheduler_tick_seconds
        )
        scheduler.add(
            "approvals", approval_jobs.tick, every_s=settings.seatbot_scheduler_tick_seconds
        )
        if settings.seatbot_reconcile_at is not None:
            at = time_of_day.fromisoformat(settings.seatbot_reconcile_at)
            scheduler.add(
                "shared reconciliation",
                functools.partial(reports.jobs.reconcile_tick, at),
                every_s=settings.seatbot_scheduler_tick_seconds,
            )
    bot_token = settings.slack_bot_token
    webhooks = WebhookSender(
        Outbox(sessions, schedule),
        sessions,
        cipher,
        default=default_webhook,
        options=SenderOptions(
            timeout_s=settings.seatbot_webhook_timeout_seconds,
            poll_s=settings.seatbot_webhook_poll_seconds,
        ),
        notifier=OwnerNotifier(
            api_url=settings.slack_api_url,
            bot_token=None if bot_token is None else bot_token.get_secret_value(),
            installation_store=installation_store,
        ),
        metrics=metrics,
        guard=DestinationGuard(allow_private=settings.seatbot_webhook_allow_private),
    )
    in_flight = InFlight(metrics)
    in_flight.install(bolt_app)
    running = None if scheduler is None else (lambda: scheduler.running)
    operations = Operations(
        metrics, Readiness(settings.database_url, scheduler_running=running), in_flight
    )
    signing_secret = settings.slack_signing_secret
    asgi_app = build_asgi_app(
        bolt_app,
        signing_secret=None if signing_secret is None else signing_secret.get_secret_value(),
        on_startup=_starter(webhooks, scheduler),
        on_shutdown=_closer(
            directory,
            engine,
            webhooks,
            scheduler,
            reports,
            operations,
            responses=responses,
            deadline_s=settings.seatbot_shutdown_deadline_seconds,
        ),
        operations=operations,
    )
    return SlackRuntime(
        bolt_app, asgi_app, engine, directory, webhooks, reports, scheduler, operations, responses
    )


def _starter(
    webhooks: WebhookSender, scheduler: ReportScheduler | None
) -> Callable[[], Awaitable[None]]:
    async def start() -> None:
        await webhooks.start()
        if scheduler is not None:
            await scheduler.start()

    return start


def run_server(settings: Settings, host: str = "0.0.0.0", port: int | None = None) -> None:  # noqa: S104 - a server listens on all interfaces by default
    """Check the configuration, apply migrations, then serve until interrupted: Socket Mode
    when ``SLACK_APP_TOKEN`` is set, otherwise HTTP on ``host:port`` (``port`` defaults to
    ``PORT``, else 3000).

    Raises :class:`billing.errors.ConfigurationError` (a missing Slack setting or token key, a
    malformed ``SEATBOT_WEBHOOK_*`` setting) before touching the database when the settings
    can't make a working app, and :class:`billing.errors.Failure` naming the port when it is
    taken (the port is bound before the migrations, so a second ``seatbot serve`` stops at once).
    """
    check_configuration(settings)
    default_destination(settings)
    retry_schedule(settings)
    sock = None
    if settings.slack_app_token is None:
        sock = bind_port(host, port if port is not None else settings.port)
    try:
        _run_bound(settings, sock)
    finally:
        if sock is not None:
            sock.close()


def _run_bound(settings: Settings, sock: socket.socket | None) -> None:
    redactor = configure_logging(settings)
    upgrade(settings.database_url)
    runtime = build_runtime(
        settings, redactor=redactor, clock=clock_from_settings(settings) or _utc_now
    )
    if sock is not None:
        serve_http(runtime.asgi_app, settings, sock=sock, operations=runtime.operations)
    elif settings.slack_app_token is not None:
        asyncio.run(_serve_socket_mode(runtime, settings.slack_app_token.get_secret_value()))


async def _serve_socket_mode(runtime: SlackRuntime, app_token: str) -> None:
    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

    handler = AsyncSocketModeHandler(runtime.bolt_app, app_token)
    await _starter(runtime.webhooks, runtime.scheduler)()
    logger.info("Connecting to Slack over Socket Mode")
    try:
        # Retries (slack_sdk logs each refusal) until Slack accepts SLACK_APP_TOKEN.
        await handler.connect_async()  # type: ignore[no-untyped-call]  # Bolt leaves it untyped
        logger.info("Seatbot connected over Socket Mode")
        await asyncio.Event().wait()  # served by the socket client's tasks until interrupted
    finally:
        await handler.close_async()  # type: ignore[no-untyped-call]
        await _closer(
            runtime.platforms,
            runtime.engine,
            runtime.webhooks,
            runtime.scheduler,
            runtime.reports,
            responses=runtime.responses,
        )()
