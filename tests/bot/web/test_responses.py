"""Replies to response URLs (:mod:`bot.web.responses`): the same request Bolt's ``respond()``
sends, over one kept-alive connection instead of a new one per reply."""

from __future__ import annotations

import json
from typing import Any

import pytest
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.models.blocks import SectionBlock
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from bot.offline.standin.serving import serve_asgi
from bot.web.responses import PooledRespond, ResponseUrls


class Hooks:
    """A response URL endpoint that records each body and the client port it came from."""

    def __init__(self) -> None:
        self.received: list[tuple[int, dict[str, Any]]] = []

    async def hook(self, request: Request) -> PlainTextResponse:
        assert request.client is not None
        self.received.append((request.client.port, json.loads(await request.body())))
        return PlainTextResponse("ok")

    def asgi(self) -> Starlette:
        return Starlette(routes=[Route("/hook", self.hook, methods=["POST"])])


REPLIES: list[dict[str, Any]] = [
    {"text": "plain"},
    {
        "text": "with blocks",
        "blocks": [SectionBlock(text="*hello*")],
        "response_type": "ephemeral",
        "replace_original": False,
    },
    {"text": {"text": "a whole message", "blocks": [SectionBlock(text="hi")]}},
    {"text": "gone", "delete_original": True},
]


async def test_replies_are_bolts_requests_over_one_connection() -> None:
    hooks = Hooks()
    server = serve_asgi(hooks.asgi())
    await server.started()
    responses = ResponseUrls()
    try:
        url = f"{server.url}/hook"
        for reply in REPLIES:
            await AsyncRespond(response_url=url)(**reply)
        bolts = list(hooks.received)
        hooks.received.clear()
        for reply in REPLIES:
            answered = await PooledRespond(AsyncRespond(response_url=url), responses)(**reply)
            assert answered.status_code == 200
    finally:
        await responses.aclose()
        await server.stop()
    pooled = hooks.received
    assert [body for _, body in pooled] == [body for _, body in bolts]
    assert len({port for port, _ in bolts}) == len(REPLIES)  # Bolt: a connection per reply
    assert len({port for port, _ in pooled}) == 1  # here: one, kept alive


async def test_a_reply_after_shutdown_still_goes_out_on_a_session_of_its_own() -> None:
    hooks = Hooks()
    server = serve_asgi(hooks.asgi())
    await server.started()
    responses = ResponseUrls()
    await responses.aclose()
    try:
        late = PooledRespond(AsyncRespond(response_url=f"{server.url}/hook"), responses)
        assert (await late(text="a listener that finished late")).status_code == 200
    finally:
        await server.stop()
    assert [body for _, body in hooks.received] == [{"text": "a listener that finished late"}]
    assert responses.closed


async def test_a_reply_without_a_response_url_is_refused() -> None:
    responses = ResponseUrls()
    respond = PooledRespond(AsyncRespond(response_url=None), responses)
    with pytest.raises(ValueError, match="no response_url"):
        await respond(text="nowhere")
