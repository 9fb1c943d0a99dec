"""The SSRF guard: each attempt resolves the destination's host anew, refuses loopback, private,
link-local, multicast, reserved and cloud metadata addresses unless the operator allows them,
and connects to the very address it checked (DNS rebinding gets no second answer)."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Sequence
from datetime import UTC, datetime
from ipaddress import ip_address

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from webhook_urls import METADATA, QUERY_SECRET, UNPARSABLE, Address, numeric_hosts, public

from billing.events import webhook_url_problem
from billing.events.destinations import IPV4_PROBLEM
from bot.offline.standin.slack_api import serve_asgi
from bot.webhooks.config import Destination, new_webhook_secret
from bot.webhooks.delivery import AttemptResult, post_event, webhook_client
from bot.webhooks.guard import DestinationGuard
from bot.webhooks.receiver import WebhookReceiver

SECRET = new_webhook_secret()
BODY = json.dumps({"type": "seat_change.applied", "timestamp": "t", "data": {}})
PUBLIC = "93.184.216.34"
HOOK = Destination("https://billing.example.com:8443/hooks?token=abc", SECRET)


class Answers:
    """A resolver that gives each answer in turn (the last one again when they run out) and
    records what it was asked."""

    def __init__(self, *answers: Sequence[str]) -> None:
        self.answers = list(answers)
        self.asked: list[tuple[str, int]] = []

    async def __call__(self, host: str, port: int) -> Sequence[str]:
        self.asked.append((host, port))
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


async def attempt(
    guard: DestinationGuard, destination: Destination = HOOK
) -> tuple[AttemptResult, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204)

    async with webhook_client(httpx.MockTransport(handler)) as client:
        result = await post_event(
            client, destination, "msg_1", BODY, at=datetime.now(UTC), timeout_s=5, guard=guard
        )
    return result, seen


async def test_a_public_address_is_connected_to_as_checked_with_the_host_name_kept() -> None:
    resolver = Answers([PUBLIC])
    result, [request] = await attempt(DestinationGuard(resolver=resolver))
    assert result.delivered is True
    assert resolver.asked == [("billing.example.com", 8443)]
    assert request.url.host == PUBLIC  # the address checked, not the name resolved again
    assert request.url.port == 8443
    assert request.url.query == b"token=abc"
    assert request.headers["host"] == "billing.example.com:8443"
    assert request.extensions["sni_hostname"] == "billing.example.com"  # the certificate's name


@pytest.mark.parametrize(
    ("addresses", "reason"),
    [
        (["127.0.0.1"], "127.0.0.1, a loopback address"),
        (["::1"], "::1, a loopback address"),
        (["10.0.0.7"], "10.0.0.7, a private address"),
        ([PUBLIC, "192.168.0.5"], "192.168.0.5, a private address"),  # any answer refused
        (["169.254.169.254"], "169.254.169.254, a cloud metadata address"),
        (["fd00:ec2::254"], "fd00:ec2::254, a cloud metadata address"),
        (["fe80::1"], "fe80::1, a link-local address"),
        (["239.1.2.3"], "239.1.2.3, a multicast address"),
    ],
)
async def test_a_destination_that_resolves_to_a_non_public_address_is_refused(
    addresses: list[str], reason: str
) -> None:
    result, seen = await attempt(DestinationGuard(resolver=Answers(addresses)))
    assert seen == []  # nothing was sent
    assert result.delivered is False
    assert result.status_code is None
    assert result.error is not None
    assert result.error.startswith(f"refused: the webhook's host resolves to {reason}")
    assert "billing.example.com" not in result.error
    assert "token" not in result.error
    assert "abc" not in result.error


async def test_dns_rebinding_gets_no_second_answer() -> None:
    """First answer public, every later one private: the first attempt connects to the public
    address it checked (never asking again), the next attempt resolves anew and is refused."""
    resolver = Answers([PUBLIC], ["127.0.0.1"])
    guard = DestinationGuard(resolver=resolver)
    first, [request] = await attempt(guard)
    assert first.delivered is True
    assert request.url.host == PUBLIC
    assert len(resolver.asked) == 1
    second, seen = await attempt(guard)
    assert seen == []
    assert len(resolver.asked) == 2  # resolved per attempt
    assert second.error is not None
    assert second.error.startswith("refused: the webhook's host resolves to 127.0.0.1")


async def test_the_operator_may_allow_private_destinations_but_not_metadata() -> None:
    allowed_here = Destination(HOOK.url, SECRET, allow_private=True)
    result, [request] = await attempt(
        DestinationGuard(resolver=Answers(["10.0.0.7"])), allowed_here
    )
    assert result.delivered is True
    assert request.url.host == "10.0.0.7"
    everywhere = DestinationGuard(allow_private=True, resolver=Answers(["127.0.0.1"]))
    assert (await attempt(everywhere))[0].delivered is True
    metadata = DestinationGuard(allow_private=True, resolver=Answers(["169.254.169.254"]))
    result, seen = await attempt(metadata, allowed_here)
    assert seen == []
    assert result.error is not None
    assert "a cloud metadata address" in result.error


async def test_a_url_with_credentials_stored_before_they_were_refused_is_not_sent() -> None:
    legacy = Destination("https://user:hunter2@billing.example.com/hooks", SECRET)
    result, seen = await attempt(DestinationGuard(resolver=Answers([PUBLIC])), legacy)
    assert seen == []
    assert result.error is not None
    assert result.error.startswith("refused: the URL holds a user name or password")
    assert "hunter2" not in result.error


async def test_a_host_that_does_not_resolve_is_a_failed_attempt_in_words() -> None:
    async def nowhere(host: str, port: int) -> Sequence[str]:
        raise OSError(-2, "Name or service not known")

    result, seen = await attempt(DestinationGuard(resolver=nowhere))
    assert seen == []
    assert result.error == "could not connect (refused, or no such host)"


async def test_a_real_loopback_receiver_is_refused_unless_allowed() -> None:
    receiver = WebhookReceiver(SECRET)
    server = serve_asgi(receiver.asgi_app)
    try:
        for url in (f"{server.url}/hooks", f"http://localhost:{server.port}/hooks"):
            async with webhook_client() as client:
                refused = await post_event(
                    client,
                    Destination(url, SECRET),
                    "msg_refused",
                    BODY,
                    at=datetime.now(UTC),
                    timeout_s=5,
                    guard=DestinationGuard(),
                )
            assert refused.error is not None
            assert refused.error.startswith("refused: the webhook's host resolves to ")
            assert "a loopback address" in refused.error
        assert receiver.events == []
        async with webhook_client() as client:
            allowed = await post_event(
                client,
                Destination(f"{server.url}/hooks", SECRET, allow_private=True),
                "msg_allowed",
                BODY,
                at=datetime.now(UTC),
                timeout_s=5,
                guard=DestinationGuard(),
            )
        assert allowed.delivered is True
        [event] = await receiver.wait_for(1, within_s=10)
        assert event.webhook_id == "msg_allowed"
    finally:
        await server.stop()


@settings(max_examples=150, deadline=None)
@given(host=numeric_hosts(), allow=st.booleans())
def test_an_address_in_any_spelling_is_judged_as_the_resolver_reads_it(
    host: tuple[str, Address], allow: bool
) -> None:
    """A URL's host naming an address (``2130706433``, ``0x7f.1``, ``0177.0.0.1``,
    ``[::ffff:127.0.0.1]``, ``[fe80::1%251]``…): an IPv4 address not in dotted decimal is
    refused as written (resolvers and URL parsers read it differently), whatever it reaches;
    any other, through the system's resolver, is refused unless the address it reaches is
    public or the operator allows private ones, metadata always."""
    spelled, reached = host
    url = f"http://{spelled}:8080/hooks?token={QUERY_SECRET}"
    problem = webhook_url_problem(url)
    if problem is not None:
        assert problem == IPV4_PROBLEM
        result, seen = asyncio.run(attempt(DestinationGuard(), Destination(url, SECRET)))
        assert (seen, result.error) == ([], f"refused: the URL {IPV4_PROBLEM}")
        return
    raw_host = httpx.URL(url).raw_host.decode()
    # The resolver reads it as a number, asking no DNS server.
    [resolved] = {
        info[4][0] for info in socket.getaddrinfo(raw_host, 80, flags=socket.AI_NUMERICHOST)
    }
    result, seen = asyncio.run(
        attempt(DestinationGuard(), Destination(url, SECRET, allow_private=allow))
    )
    if reached in METADATA or not (allow or public(reached)):
        assert seen == []
        assert result.error is not None
        assert result.error.startswith(f"refused: the webhook's host resolves to {resolved}, ")
        assert QUERY_SECRET not in result.error
    else:
        [request] = seen
        assert ip_address(request.url.host) == ip_address(resolved)  # the address judged
        assert result.delivered is True


@pytest.mark.parametrize("url", UNPARSABLE)
async def test_a_stored_url_the_rule_now_refuses_is_a_failed_attempt_in_words(url: str) -> None:
    """Each attempt fails saying why (so the sender records it, retries it, gives up on it and
    tells the owners like any other failure), nothing is sent; it used to raise httpx's
    ``InvalidURL`` out of the attempt."""
    problem = webhook_url_problem(url)
    assert problem is not None
    result, seen = await attempt(
        DestinationGuard(resolver=Answers([PUBLIC])), Destination(url, SECRET)
    )
    assert (seen, result.delivered, result.error) == ([], False, f"refused: the URL {problem}")


@pytest.mark.parametrize("url", UNPARSABLE)
async def test_a_url_httpx_cannot_parse_is_refused_in_words_even_past_the_rule(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Should the rule let one through, the attempt still fails in words, never quoting it."""
    monkeypatch.setattr("bot.webhooks.guard.webhook_url_problem", lambda _url: None)
    result, seen = await attempt(
        DestinationGuard(resolver=Answers([PUBLIC])), Destination(url, SECRET)
    )
    assert (seen, result.error) == ([], "refused: the URL cannot be parsed")
