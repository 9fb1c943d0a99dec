"""What a billing webhook destination may be (its URL, the addresses it may reach), and how any
URL is shown: one function, so a query value or a password is never printed or logged."""

from __future__ import annotations

import pytest

from billing.events.destinations import (
    CREDENTIALS_PROBLEM,
    URL_PROBLEM,
    refused_address,
    webhook_url_problem,
)
from billing.formatting import shown_query, shown_url


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("https://b.example.com/hooks?token=s3cr3t-value", "https://b.example.com/hooks?token=…"),
        ("https://b.example.com/h?a=1&b=&flag#frag", "https://b.example.com/h?a=…&b=…&…#frag"),
        ("https://user:hunter2@b.example.com/h", "https://user:***@b.example.com/h"),
        ("postgresql://u:p%40ss@h:5432/d", "postgresql://u:***@h:5432/d"),
        ("https://b.example.com/plain/path", "https://b.example.com/plain/path"),
        ("sqlite:///seatbot.db", "sqlite:///seatbot.db"),
        (
            'HTTP Request: POST http://93.184.216.34:443/h?sig=abc%2Fdef "HTTP/1.1 204 No Content"',
            'HTTP Request: POST http://93.184.216.34:443/h?sig=… "HTTP/1.1 204 No Content"',
        ),
        ("two: http://a/?k=1 and 'https://b/?k=2'", "two: http://a/?k=… and 'https://b/?k=…'"),
        ("no url here ?token=1", "no url here ?token=1"),
    ],
)
def test_shown_url_hides_passwords_and_query_values_in_any_text(text: str, shown: str) -> None:
    assert shown_url(text) == shown


def test_shown_query_keeps_names_only() -> None:
    assert shown_query("code=abc&state=def") == "code=…&state=…"
    assert shown_query("K3yV4lue") == "…"  # a bare value may be the secret itself
    assert shown_query("") == ""


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("https://billing.example.com/hooks/seatbot", None),
        ("http://127.0.0.1:8766/hooks?token=abc", None),  # the address is judged at send time
        ("https://b.example.com/path@with-at", None),
        ("ftp://billing.example.com/", URL_PROBLEM),
        ("billing.example.com/hooks", URL_PROBLEM),
        ("https://", URL_PROBLEM),
        ("https://b.example.com/a b", URL_PROBLEM),
        ("https://user:pass@b.example.com/", CREDENTIALS_PROBLEM),
        ("https://token-only@b.example.com/", CREDENTIALS_PROBLEM),
        ("https://evil.example\\@b.example.com/", CREDENTIALS_PROBLEM),
        ("https://b.example.com/" + "x" * 2000, "is longer than 2000 characters"),
    ],
)
def test_what_a_webhook_url_may_be(url: str, problem: str | None) -> None:
    assert webhook_url_problem(url) == problem


def test_the_problems_never_quote_the_url() -> None:
    for url in ("https://user:hunter2@b.example.com/", "ftp://user:hunter2@b.example.com/"):
        problem = webhook_url_problem(url)
        assert problem is not None
        assert "hunter2" not in problem
        assert "b.example.com" not in problem


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("93.184.216.34", None),
        ("2606:2800:220:1:248:1893:25c8:1946", None),
        ("127.0.0.1", "a loopback address"),
        ("127.8.9.10", "a loopback address"),
        ("::1", "a loopback address"),
        ("::ffff:127.0.0.1", "a loopback address"),  # IPv4-mapped
        ("2002:7f00:1::", "a loopback address"),  # 6to4 around 127.0.0.1
        ("64:ff9b::a00:1", "a private address"),  # NAT64 around 10.0.0.1
        ("0.0.0.0", "an unspecified address"),  # noqa: S104 - an address judged, not bound
        ("::", "an unspecified address"),
        ("10.1.2.3", "a private address"),
        ("172.16.0.9", "a private address"),
        ("192.168.1.1", "a private address"),
        ("fd12:3456::1", "a private address"),
        ("169.254.10.20", "a link-local address"),
        ("fe80::1%eth0", "a link-local address"),
        ("169.254.169.254", "a cloud metadata address"),
        ("fd00:ec2::254", "a cloud metadata address"),
        ("100.100.100.200", "a cloud metadata address"),
        ("224.0.0.1", "a multicast address"),
        ("ff02::1", "a multicast address"),
        ("100.64.0.1", "a reserved address (not publicly routable)"),
        ("240.0.0.1", "a reserved address (not publicly routable)"),
        ("not-an-address", "not an IP address"),
    ],
)
def test_which_addresses_a_webhook_may_reach(address: str, reason: str | None) -> None:
    assert refused_address(address) == reason


def test_the_operator_may_allow_private_addresses_but_never_cloud_metadata() -> None:
    for private in ("127.0.0.1", "::1", "10.1.2.3", "169.254.10.20", "fd12::1", "::"):
        assert refused_address(private, allow_private=True) is None
    for metadata in ("169.254.169.254", "fd00:ec2::254", "::ffff:169.254.169.254"):
        assert refused_address(metadata, allow_private=True) == "a cloud metadata address"
