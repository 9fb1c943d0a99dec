"""``seatbot serve``: the Bolt app over HTTP (Starlette on uvicorn) or over Socket Mode.

HTTP routes:

* ``POST /slack/events`` — slash commands, interactivity and the Events API, each verified
  against the signing secret by Bolt (a bad, stale or missing signature gets 401);
* ``GET /slack/install`` and ``GET /slack/oauth_redirect`` — only when OAuth is configured;
* ``GET /healthz`` — 200 when the process serves requests.

Migrations are applied before anything is served.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import uvicorn
from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.signature import SignatureVerifier
from sqlalchemy import Engine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from billing.seat_changes import SeatChanges
from bot.app import ListenerRegistrar, build_app, oauth_enabled
from bot.db import make_engine, make_session_factory, upgrade
from bot.installations import SqlInstallationStore, SqlOAuthStateStore, TokenCipher
from bot.logging_setup import SecretRedactor, configure_logging
from bot.platform_directory import PlatformDirectory
from bot.secrets import cipher_for
from bot.settings import Settings
from handlers.deps import HandlerDeps

logger = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"
_TIMESTAMP = re.compile(r"^[0-9]{1,12}$")


@dataclass
class SlackRuntime:
    """Everything ``seatbot serve`` runs: the Bolt app, its ASGI wrapper and what they own."""

    bolt_app: AsyncApp
    asgi_app: Starlette
    engine: Engine
    platforms: PlatformDirectory


def _closer(directory: PlatformDirectory, engine: Engine) -> Callable[[], Awaitable[None]]:
    async def aclose() -> None:
        await directory.aclose()
        engine.dispose()

    return aclose


def _utc_now() -> datetime:
    return datetime.now(UTC)


def build_runtime(
    settings: Settings,
    *,
    redactor: SecretRedactor | None = None,
    register: ListenerRegistrar | None = None,
    clock: Callable[[], datetime] = _utc_now,
) -> SlackRuntime:
    """Compose the app from ``settings`` (database, services, platforms, OAuth stores).

    Migrations are not applied here; :func:`run_server` does that first.
    """
    engine = make_engine(settings.database_url)
    sessions = make_session_factory(engine)
    directory = PlatformDirectory(sessions, redactor=redactor, cipher=cipher_for(settings))
    deps = HandlerDeps(
        seat_changes=SeatChanges(
            sessions, quote_ttl=timedelta(seconds=settings.seatbot_quote_ttl_seconds)
        ),
        platform_for=directory.platform_for,
        clock=clock,
        platform_deadline_s=settings.seatbot_platform_deadline_seconds,
    )
    installation_store = state_store = None
    if oauth_enabled(settings):
        cipher = TokenCipher.from_settings(settings)
        installation_store = SqlInstallationStore(
            sessions, cipher, client_id=str(settings.slack_client_id)
        )
        state_store = SqlOAuthStateStore(sessions)
    bolt_app = build_app(
        settings,
        deps,
        installation_store=installation_store,
        state_store=state_store,
        register=register,
    )
    signing_secret = settings.slack_signing_secret
    asgi_app = build_asgi_app(
        bolt_app,
        signing_secret=None if signing_secret is None else signing_secret.get_secret_value(),
        on_shutdown=_closer(directory, engine),
    )
    return SlackRuntime(bolt_app, asgi_app, engine, directory)


def build_asgi_app(
    bolt_app: AsyncApp,
    *,
    signing_secret: str | None,
    on_shutdown: Callable[[], Awaitable[None]] | None = None,
) -> Starlette:
    """The Starlette app serving ``bolt_app`` (see the module docstring for the routes).

    Slack's signature is checked here before Bolt sees the request (Bolt checks it again):
    Bolt parses the body first and a malformed body would otherwise make it raise (a 500).
    Without a ``signing_secret`` (Socket Mode only) every ``POST`` is refused.
    """
    handler = AsyncSlackRequestHandler(bolt_app)
    verifier = SignatureVerifier(signing_secret) if signing_secret else None

    async def slack_events(request: Request) -> Response:
        body = await request.body()
        if verifier is None or not _signed_by_slack(verifier, body, request):
            return JSONResponse({"error": "invalid request"}, status_code=401)
        try:
            return await handler.handle(request)
        except (ValueError, UnicodeDecodeError):  # JSONDecodeError is a ValueError
            logger.warning("A correctly signed Slack request had a body that is not valid")
            return JSONResponse({"error": "malformed request"}, status_code=400)
        except Exception as error:  # Bolt's own failures: log them, answer without detail
            reference = secrets.token_hex(4)
            logger.error(
                "Unexpected %s while dispatching a Slack request (reference %s)",
                type(error).__name__,
                reference,
                exc_info=error,
            )
            return JSONResponse({"error": "internal error", "reference": reference}, 500)

    async def oauth(request: Request) -> Response:
        return await handler.handle(request)

    async def healthz(request: Request) -> Response:
        return JSONResponse({"ok": True})

    routes = [
        Route(EVENTS_PATH, slack_events, methods=["POST"]),
        Route(HEALTH_PATH, healthz, methods=["GET"]),
    ]
    flow = bolt_app.oauth_flow
    if flow is not None:
        routes.append(Route(flow.install_path, oauth, methods=["GET"]))
        routes.append(Route(flow.redirect_uri_path, oauth, methods=["GET"]))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        if on_shutdown is not None:
            await on_shutdown()

    return Starlette(routes=routes, lifespan=lifespan)


def _signed_by_slack(verifier: SignatureVerifier, body: bytes, request: Request) -> bool:
    """Slack's v0 signature over ``body`` is valid and at most five minutes old."""
    timestamp = request.headers.get("x-slack-request-timestamp")
    signature = request.headers.get("x-slack-signature")
    if timestamp is None or signature is None or _TIMESTAMP.match(timestamp) is None:
        return False  # the verifier would raise on a timestamp that is not a number
    return bool(verifier.is_valid(body=body, timestamp=timestamp, signature=signature))


def run_server(settings: Settings, host: str = "0.0.0.0", port: int | None = None) -> None:  # noqa: S104 - a server listens on all interfaces by default
    """Apply migrations, then serve until interrupted: Socket Mode when ``SLACK_APP_TOKEN`` is
    set, otherwise HTTP on ``host:port`` (``port`` defaults to ``PORT``, else 3000)."""
    redactor = configure_logging(settings)
    upgrade(settings.database_url)
    runtime = build_runtime(settings, redactor=redactor)
    if settings.slack_app_token is not None:
        asyncio.run(_serve_socket_mode(runtime, settings.slack_app_token.get_secret_value()))
        return
    config = uvicorn.Config(
        runtime.asgi_app,
        host=host,
        port=port if port is not None else settings.port,
        log_config=None,  # keep our handlers (and their redaction) for uvicorn's loggers
        proxy_headers=True,
    )
    logger.info("Seatbot listening on http://%s:%s%s", host, config.port, EVENTS_PATH)
    uvicorn.Server(config).run()


async def _serve_socket_mode(runtime: SlackRuntime, app_token: str) -> None:
    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

    handler = AsyncSocketModeHandler(runtime.bolt_app, app_token)
    logger.info("Seatbot connected over Socket Mode")
    try:
        await handler.start_async()  # type: ignore[no-untyped-call]  # Bolt leaves it untyped
    finally:
        await handler.close_async()  # type: ignore[no-untyped-call]
        await _closer(runtime.platforms, runtime.engine)()
