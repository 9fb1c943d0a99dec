"""Where one delivery attempt may connect: the billing hand-off's guard against server-side
request forgery.

Every attempt resolves the destination's host anew, judges every address it resolves to with
:func:`billing.events.destinations.refused_address` (loopback, private, link-local, multicast,
reserved and cloud metadata addresses are refused unless the operator allows private ones),
and then connects to the very address it judged: the request goes to that IP, with the URL's
host in the ``Host`` header and, for https, as the TLS server name (the certificate is checked
against it). A name that resolves to a public address when judged and to a private one when
connected (DNS rebinding) therefore never gets its second answer used.

The opt-in: ``allow_private_destinations: true`` on an account's webhook (its
:class:`bot.webhooks.config.Destination`), or ``SEATBOT_WEBHOOK_ALLOW_PRIVATE`` for all of them.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from ipaddress import ip_address
from typing import Any

import httpx

from billing.errors import SeatbotError
from billing.events import METADATA_REASON, refused_address, webhook_url_problem
from bot.webhooks.config import Destination

#: ``(host, port)`` → the addresses it resolves to, as text (``"93.184.216.34"``, ``"::1"``).
Resolver = Callable[[str, int], Awaitable[Sequence[str]]]

_DEFAULT_PORTS = {"http": 80, "https": 443}
_HOW_TO_ALLOW = (
    "webhooks go to public addresses only, unless the operator allows private ones: "
    "allow_private_destinations or SEATBOT_WEBHOOK_ALLOW_PRIVATE"
)


async def system_resolver(host: str, port: int) -> Sequence[str]:
    """The addresses the system's resolver gives for ``host`` (``OSError`` when none)."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


class DestinationRefused(SeatbotError):
    """The attempt may not be made; the message says why in one line (never the URL)."""


@dataclass(frozen=True)
class PinnedRequest:
    """Where to send the request (the checked address in place of the host name) and what
    keeps the host name: the ``Host`` header and the TLS server name (request extensions)."""

    url: httpx.URL
    headers: dict[str, str]
    extensions: dict[str, Any] = field(default_factory=dict)


class DestinationGuard:
    """Judges and pins each attempt (see the module docstring). ``allow_private``: the
    operator's opt-in for every destination (``SEATBOT_WEBHOOK_ALLOW_PRIVATE``)."""

    def __init__(
        self, *, allow_private: bool = False, resolver: Resolver = system_resolver
    ) -> None:
        self.allow_private = allow_private
        self._resolve = resolver

    async def pin(self, destination: Destination) -> PinnedRequest:
        """Resolve ``destination``'s host now and judge every address; the request to make.
        :class:`DestinationRefused` when it may not be made (its URL included: one stored
        before a rule refused it fails its attempts in words, and is given up like any other),
        ``OSError`` when the host does not resolve."""
        problem = webhook_url_problem(destination.url)
        if problem is not None:
            raise DestinationRefused(f"refused: the URL {problem}")
        try:  # should the rule above let through a URL httpx cannot parse
            url = httpx.URL(destination.url)
        except httpx.InvalidURL:  # its message may quote the URL
            raise DestinationRefused("refused: the URL cannot be parsed") from None
        host = url.raw_host.decode("ascii")
        addresses = await self._resolve(host, url.port or _DEFAULT_PORTS[url.scheme])
        if not addresses:
            raise OSError("the host has no address")
        allow = self.allow_private or destination.allow_private
        for address in addresses:
            reason = refused_address(address, allow_private=allow)
            if reason is not None:
                hint = "never allowed" if reason == METADATA_REASON else _HOW_TO_ALLOW
                raise DestinationRefused(
                    f"refused: the webhook's host resolves to {address}, {reason} ({hint})"
                )
        try:
            pinned = url.copy_with(host=addresses[0])
        except httpx.InvalidURL:  # an IPv6 address with a zone (fe80::1%eth0)
            raise DestinationRefused(
                f"refused: the webhook's host resolves to {addresses[0]}, which a URL cannot name"
            ) from None
        extensions: dict[str, Any] = {}
        if url.scheme == "https" and not _is_address(host):
            extensions["sni_hostname"] = host
        return PinnedRequest(pinned, {"host": url.netloc.decode("ascii")}, extensions)


def _is_address(host: str) -> bool:
    try:
        ip_address(host)
    except ValueError:
        return False
    return True
