"""Replies to Slack's response URLs over one kept-alive HTTP session.

Bolt's ``respond()`` opens a new aiohttp session for every reply: a new TCP connection (and,
to ``hooks.slack.com``, a new TLS handshake) each time, and a new TLS context loaded from the
system's certificates. :class:`ResponseUrls` keeps one session for the process (one per event
loop), and :class:`PooledRespond` is Bolt's ``respond()`` sending through it; the request each
sends is the same.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import aiohttp
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.models.attachments import Attachment
from slack_sdk.models.blocks import Block
from slack_sdk.webhook.async_client import AsyncWebhookClient
from slack_sdk.webhook.webhook_response import WebhookResponse


class ResponseUrls:
    """The HTTP session replies to response URLs go through: made at the first reply, in the
    running event loop; :meth:`aclose` at shutdown."""

    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.closed = False

    def session(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self._session is not None and not self._session.closed and self._loop is not loop:
            # Another event loop (a test's): the old session's is gone or not ours to wait on.
            previous, self._session = self._session, None
            if self._loop is not None and not self._loop.is_closed():
                self._loop.call_soon_threadsafe(lambda: asyncio.ensure_future(previous.close()))
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
            self._loop = loop
        return self._session

    async def aclose(self) -> None:
        """Close the session; a reply sent after this (a listener finishing late) opens a
        session of its own, as Bolt's ``respond()`` does."""
        self.closed = True
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None


def _as_dicts(items: Sequence[dict[str, Any] | Block | Attachment]) -> list[dict[str, Any]]:
    return [item if isinstance(item, dict) else item.to_dict() for item in items]


class PooledRespond(AsyncRespond):
    """Bolt's ``respond()`` for one request, sending through :class:`ResponseUrls`' session."""

    def __init__(self, respond: AsyncRespond, responses: ResponseUrls) -> None:
        super().__init__(response_url=respond.response_url, proxy=respond.proxy, ssl=respond.ssl)
        self._responses = responses

    async def __call__(
        self,
        text: str | dict[str, Any] = "",
        blocks: Sequence[dict[str, Any] | Block] | None = None,
        attachments: Sequence[dict[str, Any] | Attachment] | None = None,
        response_type: str | None = None,
        replace_original: bool | None = None,
        delete_original: bool | None = None,
        unfurl_links: bool | None = None,
        unfurl_media: bool | None = None,
        thread_ts: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> WebhookResponse:
        if self._responses.closed:  # shutting down: Bolt's own, with a session of its own
            return await super().__call__(
                text,
                blocks,
                attachments,
                response_type,
                replace_original,
                delete_original,
                unfurl_links,
                unfurl_media,
                thread_ts,
                metadata,
            )
        url = self.response_url
        if url is None:
            raise ValueError("respond is unsupported here as there is no response_url")
        if isinstance(text, dict):  # a whole message
            whole = dict(text)
            for key in ("blocks", "attachments"):
                if whole.get(key) is not None:
                    whole[key] = _as_dicts(whole[key])
            return await self._send(url, whole)
        message: dict[str, Any] = {"text": text}
        if blocks is not None:
            message["blocks"] = _as_dicts(blocks)
        if attachments is not None:
            message["attachments"] = _as_dicts(attachments)
        optional = {
            "response_type": response_type,
            "replace_original": replace_original,
            "delete_original": delete_original,
            "unfurl_links": unfurl_links,
            "unfurl_media": unfurl_media,
            "thread_ts": thread_ts,
            "metadata": metadata,
        }
        message.update({name: value for name, value in optional.items() if value is not None})
        return await self._send(url, message)

    async def _send(self, url: str, message: dict[str, Any]) -> WebhookResponse:
        client = AsyncWebhookClient(
            url=url,
            proxy=self.proxy,
            ssl=self.ssl,
            session=self._responses.session(),
        )
        return await client.send_dict(message)
