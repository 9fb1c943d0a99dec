"""The ASGI app of ``seatbot serve`` (Starlette), in front of the Bolt app.

Routes:

* ``POST /slack/events`` — slash commands, interactivity and the Events API, each verified
  against the signing secret (:mod:`bot.web.signature`: a bad, stale or missing signature gets
  401) and its envelope checked (:mod:`bot.web.envelope`) before Bolt sees it;
* ``GET /slack/install`` and ``GET /slack/oauth_redirect`` — only when OAuth is configured;
* ``GET /healthz`` — 200 when the process serves requests (liveness);
* ``GET /readyz`` — 200 when it should receive traffic: the database answers, its schema is
  current, the scheduler runs and the process is not stopping; 503 with the reasons otherwise
  (:mod:`bot.web.operations`);
* ``GET /metrics`` — Prometheus metrics (:mod:`bot.web.metrics`).

Every request body is bounded (:mod:`bot.web.request_limits`). Every signed request gets a
request id (:mod:`handlers.request_ids`), on every log line it causes and in the reference of
the generic apology, and is counted (kind, outcome, time to ack).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence

from slack_bolt.adapter.starlette.async_handler import (
    AsyncSlackRequestHandler,
    to_starlette_response,
)
from slack_bolt.async_app import AsyncApp, AsyncBoltRequest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.web.bolt_app import error_ack
from bot.web.envelope import MAX_BODY_BYTES, MalformedRequest, SlackEnvelope, check_envelope
from bot.web.metrics import Metrics
from bot.web.operations import Operations, kind_label
from bot.web.request_limits import BODY_DEADLINE_SECONDS, RequestBodyLimits
from bot.web.signature import signed_by_slack
from handlers.errors import answer_for
from handlers.request_ids import RequestScope, begin_request, end_request

logger = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"
READY_PATH = "/readyz"
METRICS_PATH = "/metrics"


def build_asgi_app(
    bolt_app: AsyncApp,
    *,
    signing_secret: str | None,
    on_startup: Callable[[], Awaitable[None]] | None = None,
    on_shutdown: Callable[[], Awaitable[None]] | None = None,
    max_body_bytes: int = MAX_BODY_BYTES,
    body_deadline_s: float = BODY_DEADLINE_SECONDS,
    operations: Operations | None = None,
) -> Starlette:
    """The Starlette app serving ``bolt_app`` (see the module docstring for the routes).

    Every request body is bounded (``max_body_bytes``, else 413; complete within
    ``body_deadline_s`` seconds, else 408: see :mod:`bot.web.request_limits`). On
    ``POST /slack/events`` Slack's signature is checked here (401), then the envelope
    (:func:`bot.web.envelope.check_envelope`: 400 and one WARNING line when Slack could not have
    sent it), and only then does Bolt see the request.
    Without a ``signing_secret`` (Socket Mode only) every ``POST`` is refused.
    ``on_startup`` and ``on_shutdown`` run with the app's lifespan.

    Every request to ``/slack/events`` runs in its own :class:`RequestScope` (its id on every
    log line). With ``operations``, ``/readyz`` and ``/metrics`` are served and each request
    is counted (kind, outcome, time to ack).
    """
    handler = AsyncSlackRequestHandler(bolt_app)
    signing_key = signing_secret.encode() if signing_secret else None

    async def slack_events(request: Request) -> Response:
        scope = RequestScope()
        token = begin_request(scope)
        try:
            response = await answer(request, scope)
        finally:
            end_request(token)
        if operations is not None:
            _count(operations.metrics, scope, response.status_code)
        return response

    async def answer(request: Request, scope: RequestScope) -> Response:
        body = await request.body()
        if signing_key is None or not signed_by_slack(signing_key, body, request.headers):
            return JSONResponse({"error": "invalid request"}, status_code=401)
        try:
            envelope = check_envelope(body, request.headers.get("content-type"))
        except MalformedRequest as problem:
            logger.warning("Refused a signed Slack request: %s", problem.reason)
            return JSONResponse({"error": "malformed request"}, status_code=400)
        scope.kind = kind_label(envelope.body)
        try:
            to_bolt = bolt_request(
                body,
                envelope,
                headers={name: request.headers.getlist(name) for name in request.headers},
                query={name: request.query_params.getlist(name) for name in request.query_params},
            )
        except Exception as error:  # what check_envelope should have refused: still a 400
            logger.warning(
                "Refused a signed Slack request Bolt could not read (%s)", type(error).__name__
            )
            return JSONResponse({"error": "malformed request"}, status_code=400)
        try:
            bolt_response = await bolt_app.async_dispatch(to_bolt)
        except Exception as error:  # Bolt catches its own; this is a last resort
            answer = answer_for(error, "the dispatch of a Slack request")
            return to_starlette_response(error_ack(envelope.body, answer))
        if bolt_response.status >= 500:
            # A listener or middleware failed before the ack and the app's error handler let
            # Bolt's 500 stand (bot.web.bolt_app's answers 200 itself); it has logged the failure.
            logger.debug("Bolt answered %d; answering 200", bolt_response.status)
            return Response(status_code=200)
        return to_starlette_response(bolt_response)

    async def oauth(request: Request) -> Response:
        return await handler.handle(request)

    async def healthz(request: Request) -> Response:
        return JSONResponse({"ok": True})

    routes = [
        Route(EVENTS_PATH, slack_events, methods=["POST"]),
        Route(HEALTH_PATH, healthz, methods=["GET"]),
    ]
    if operations is not None:
        routes += _operator_routes(operations)
    flow = bolt_app.oauth_flow
    if flow is not None:
        routes.append(Route(flow.install_path, oauth, methods=["GET"]))
        routes.append(Route(flow.redirect_uri_path, oauth, methods=["GET"]))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if on_startup is not None:
            await on_startup()
        yield
        if on_shutdown is not None:
            await on_shutdown()

    limits = Middleware(
        RequestBodyLimits, max_body_bytes=max_body_bytes, deadline_s=body_deadline_s
    )
    return Starlette(routes=routes, middleware=[limits], lifespan=lifespan)


def _count(metrics: Metrics, scope: RequestScope, status: int) -> None:
    """Count a request at its ack; one whose listener runs is counted when it finishes."""
    metrics.acked(scope.kind, time.perf_counter() - scope.started)
    if scope.listeners_started:
        return
    if status == 401:
        outcome = "unauthorized"
    elif status == 400:
        outcome = "malformed"
    elif status == 404:
        outcome = "unhandled"
    else:
        outcome = "error" if scope.failed or status >= 500 else "ok"
    metrics.slack_request(scope.kind, outcome)


def _operator_routes(operations: Operations) -> list[Route]:
    async def readyz(request: Request) -> Response:
        readiness = operations.readiness
        problems = [] if readiness is None else await readiness.problems()
        if problems:
            return JSONResponse({"ready": False, "reasons": problems}, status_code=503)
        return JSONResponse({"ready": True})

    async def metrics(request: Request) -> Response:
        body, content_type = operations.metrics.exposition(request.headers.get("accept"))
        return Response(body, media_type=content_type)

    return [
        Route(READY_PATH, readyz, methods=["GET"]),
        Route(METRICS_PATH, metrics, methods=["GET"]),
    ]


def bolt_request(
    raw_body: bytes,
    envelope: SlackEnvelope,
    *,
    headers: Mapping[str, str | Sequence[str]],
    query: Mapping[str, Sequence[str]] | None = None,
) -> AsyncBoltRequest:
    """Bolt's request for a body whose ``envelope`` was checked, built from the body the
    envelope parsed (Bolt's "socket mode" constructor takes a parsed body) rather than parsed
    a second time by Bolt, which would also read any form body containing the text "payload"
    as an interactivity payload: a slash command whose text (or team domain, or channel name)
    holds that word would reach it empty and go unanswered. It is still an HTTP request."""
    request = AsyncBoltRequest(
        body=envelope.body, query=dict(query or {}), headers=dict(headers), mode="socket_mode"
    )
    request.raw_body = raw_body.decode("utf-8")
    request.mode = "http"
    return request
