"""The stand-in's HTTP surface: the Web API under ``/api/``, ``response_url`` targets, and a
control surface under ``/_standin/`` that lets a driver in another process mint trigger ids and
response URLs and read what was recorded.

Every Web API call and ``response_url`` POST is recorded (without the token or client secret),
whether it succeeded or not.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from bot.offline.standin.block_kit import validate_blocks
from bot.offline.standin.rate_limits import RateLimiter
from bot.offline.standin.recording import CallLog
from bot.offline.standin.state import ResponseUrl, StandInState
from bot.offline.standin.web_api import ApiError, WebApi

#: How many times one ``response_url`` may be used (as Slack's).
RESPONSE_URL_USES = 5


class StandInRoutes:
    """The ASGI application of one stand-in (see :meth:`asgi_app`).

    ``issue_trigger_id()`` and ``issue_response_url(channel=, message_ts=)`` are the stand-in's
    own, so ids minted over HTTP behave as ones minted in-process.
    """

    def __init__(
        self,
        *,
        web: WebApi,
        state: StandInState,
        log: CallLog,
        issue_trigger_id: Callable[[], str],
        issue_response_url: Callable[..., str],
        rate_limiter: Callable[[], RateLimiter | None] = lambda: None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._web = web
        self._state = state
        self._log = log
        self._issue_trigger_id = issue_trigger_id
        self._issue_response_url = issue_response_url
        self._rate_limiter = rate_limiter
        self._clock = clock

    def asgi_app(self) -> Starlette:
        """A Starlette application serving every route."""
        return Starlette(
            routes=[
                Route("/api/{method}", self._api, methods=["GET", "POST"]),
                Route("/_standin/response/{key}", self._response_url, methods=["POST"]),
                Route("/_standin/upload/{file_id}", self._upload, methods=["POST"]),
                Route("/_standin/trigger_ids", self._mint_trigger_id, methods=["POST"]),
                Route("/_standin/response_urls", self._mint_response_url, methods=["POST"]),
                Route("/_standin/views/{view_id}", self._get_view, methods=["GET"]),
                Route("/_standin/calls", self._get_calls, methods=["GET"]),
                Route("/_standin/stats", self._get_stats, methods=["GET"]),
            ]
        )

    # ------------------------------------------------------------ the Web API

    async def _api(self, request: Request) -> Response:
        method = request.path_params["method"]
        args = await _request_args(request)
        problems: list[str] = []
        team_id: str | None = None
        try:
            if method == "oauth.v2.access":
                response = self._web.oauth_v2_access(args, request.headers.get("authorization"))
            else:
                workspace = self._web.authenticate(request.headers.get("authorization", ""), args)
                team_id = workspace.team_id
                handler = self._web.method(method)
                if handler is None:
                    raise ApiError("unknown_method")
                wait = self._rate_limited(method, team_id, args)
                if wait is not None:
                    args.pop("token", None)
                    refused = {"ok": False, "error": "ratelimited"}
                    self._log.record(method, args, team_id, refused, [])
                    headers = {"Retry-After": str(int(wait))}
                    return JSONResponse(refused, status_code=429, headers=headers)
                response = handler(args, workspace)
        except ApiError as error:
            problems = error.problems
            response = {"ok": False, "error": error.error}
            if problems:
                response["errors"] = problems
                response["response_metadata"] = {"messages": [f"[ERROR] {p}" for p in problems]}
        args.pop("token", None)
        args.pop("client_secret", None)
        self._log.record(method, args, team_id, response, problems)
        return JSONResponse(response)

    def _rate_limited(self, method: str, team_id: str, args: dict[str, Any]) -> float | None:
        """Seconds to wait when a posting limit refuses this call (only ``chat.postMessage``
        is limited, and only when the stand-in was given limits)."""
        limiter = self._rate_limiter()
        if limiter is None or method != "chat.postMessage":
            return None
        return limiter.check(team_id, str(args.get("channel") or ""), self._clock())

    async def _upload(self, request: Request) -> Response:
        """The upload URL of ``files.getUploadURLExternal``: takes the file's bytes once."""
        file_id = request.path_params["file_id"]
        body = await request.body()
        if not body:
            form = await request.form()
            parts = [v for v in form.values() if not isinstance(v, str)]
            body = await parts[0].read() if parts else b""
        problem = self._web.store_upload(file_id, body)
        self._log.record(
            "upload", {"file_id": file_id, "bytes": len(body)}, None, {"ok": problem is None}, []
        )
        if problem is not None:
            return PlainTextResponse(problem, status_code=400)
        return PlainTextResponse(f"OK - {len(body)}")

    # ------------------------------------------------------------ response_url

    async def _response_url(self, request: Request) -> Response:
        key = request.path_params["key"]
        try:
            payload = json.loads(await request.body())
        except json.JSONDecodeError:
            payload = None
        with self._state.lock:
            target = self._state.response_urls.get(key)
            if target is not None:
                target.uses += 1
        problems: list[str] = []
        if target is None:
            error: str | None = "no_service"
        elif target.uses > RESPONSE_URL_USES:
            error = "used_url"
        elif not isinstance(payload, dict):
            error = "invalid_payload"
        else:
            error = None
            if payload.get("blocks") is not None:
                problems = validate_blocks(payload["blocks"])
            if problems:
                error = "invalid_blocks"
            elif not payload.get("delete_original") and not (
                payload.get("text") or payload.get("blocks")
            ):
                error = "no_text"
        args = payload if isinstance(payload, dict) else {"raw": "<not JSON>"}
        if error is None and target is not None:
            self._apply_response(target, args)
        response = {"ok": error is None, "error": error} if error else {"ok": True}
        self._log.record("response_url", dict(args, response_url=key), None, response, problems)
        if error is not None:
            status = 404 if error == "no_service" else 400
            return PlainTextResponse(error, status_code=status)
        return PlainTextResponse("ok")

    def _apply_response(self, target: ResponseUrl, payload: dict[str, Any]) -> None:
        if target.channel is None or target.message_ts is None:
            return
        key = (target.channel, target.message_ts)
        with self._state.lock:
            if payload.get("delete_original"):
                self._state.messages.pop(key, None)
            elif payload.get("replace_original") and key in self._state.messages:
                replaced = dict(self._state.messages[key], text=payload.get("text") or "")
                if payload.get("blocks") is not None:
                    replaced["blocks"] = payload["blocks"]
                else:
                    replaced.pop("blocks", None)
                self._state.messages[key] = replaced

    # ------------------------------------------------------------ control surface

    async def _mint_trigger_id(self, request: Request) -> Response:
        return JSONResponse({"trigger_id": self._issue_trigger_id()})

    async def _mint_response_url(self, request: Request) -> Response:
        body = await request.body()
        target = json.loads(body) if body else {}
        channel, message_ts = target.get("channel"), target.get("message_ts")
        count = target.get("count")
        if isinstance(count, int) and count > 0:  # a batch, for load generators
            urls = [self._issue_response_url(channel=channel) for _ in range(count)]
            return JSONResponse({"response_urls": urls})
        url = self._issue_response_url(channel=channel, message_ts=message_ts)
        return JSONResponse({"response_url": url})

    async def _get_view(self, request: Request) -> Response:
        view_id = request.path_params["view_id"]
        with self._state.lock:
            view = self._state.views.get(view_id)
        if view is None:
            return JSONResponse({"error": "not_found"}, status_code=404)
        return JSONResponse(view)

    async def _get_stats(self, request: Request) -> Response:
        """How many calls of each method were recorded (cheap, for load generators)."""
        return JSONResponse(self._log.stats())

    async def _get_calls(self, request: Request) -> Response:
        # ?after=SEQ&method=NAME: only the newer calls of one method (a benchmark polls).
        after = request.query_params.get("after", "0")
        method = request.query_params.get("method") or None
        return JSONResponse(
            self._log.as_json(after=int(after) if after.isdigit() else 0, method=method)
        )


async def _request_args(request: Request) -> dict[str, Any]:
    """The call's arguments from the query string and a JSON or form body, as slack_sdk sends."""
    args: dict[str, Any] = dict(request.query_params)
    content_type = request.headers.get("content-type", "")
    body = await request.body()
    if not body:
        return args
    if content_type.startswith("application/json"):
        try:
            decoded = json.loads(body)
        except json.JSONDecodeError:
            return args
        if isinstance(decoded, dict):
            args.update(decoded)
    elif content_type.startswith("multipart/form-data"):
        form = await request.form()
        args.update({k: v for k, v in form.items() if isinstance(v, str)})
    else:
        args.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    return args
