"""What a billing webhook destination may be (its URL, the addresses it may reach), and how any
URL is shown: one function, so a query value or a password is never printed or logged."""

from __future__ import annotations

import re
from collections.abc import Callable
from ipaddress import IPv6Address

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from webhook_urls import (
    METADATA,
    PASSWORD,
    QUERY_SECRET,
    Address,
    public,
    resolved_addresses,
    urls_with_query_secret,
    urls_with_userinfo,
)

from billing.events.destinations import (
    CHARACTER_PROBLEM,
    CREDENTIALS_PROBLEM,
    HOST_PROBLEM,
    IPV4_PROBLEM,
    IPV6_PROBLEM,
    MAX_URL_LENGTH,
    METADATA_REASON,
    NON_ASCII_HOST_PROBLEM,
    PORT_PROBLEM,
    URL_PROBLEM,
    refused_address,
    webhook_url_problem,
)
from billing.formatting import shown_query, shown_url


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("https://b.example.com/hooks?token=s3cr3t-value", "https://b.example.com/hooks?token=…"),
        ("https://b.example.com/h?a=1&b=&flag&#frag", "https://b.example.com/h?a=…&b=&…&#frag"),
        (  # the "@" is in the query: no password, every value hidden
            "https://b.example.com:8443/hooks?notify=ops@example.com&token=TOPSECRET1",
            "https://b.example.com:8443/hooks?notify=…&token=…",
        ),
        ("https://user:pa/ss@b.example.com/h", "https://user:***@b.example.com/h"),
        ("https://user:hunter2@b.example.com/h", "https://user:***@b.example.com/h"),
        ("postgresql://u:p%40ss@h:5432/d", "postgresql://u:***@h:5432/d"),
        ("https://b.example.com/plain/path", "https://b.example.com/plain/path"),
        ("sqlite:///seatbot.db", "sqlite:///seatbot.db"),
        (
            'HTTP Request: POST http://93.184.216.34:443/h?sig=abc%2Fdef "HTTP/1.1 204 No Content"',
            'HTTP Request: POST http://93.184.216.34:443/h?sig=… "HTTP/1.1 204 No Content"',
        ),
        ("two: http://a/?k=1 and 'https://b/?k=2'", "two: http://a/?k=… and 'https://b/?k=…'"),
        (
            "(<https://b/?k=ab'c>), {'u': 'http://a/?k=1'}",
            "(<https://b/?k=…>), {'u': 'http://a/?k=…'}",
        ),
        ("no url here ?token=1", "no url here ?token=1"),
        # A "]" closing a "[" of the URL is the URL's (a secret the log redactor replaced first,
        # an IPv6 host), one closing the text's own "[" is not.
        ('POST http://h/h?token=[redacted] "HTTP/1.1"', 'POST http://h/h?token=… "HTTP/1.1"'),
        ("http://[::1]/p?q=1 and [http://x/y?a=b]", "http://[::1]/p?q=… and [http://x/y?a=…]"),
    ],
)
def test_shown_url_hides_passwords_and_query_values_in_any_text(text: str, shown: str) -> None:
    assert shown_url(text) == shown


def test_shown_query_keeps_names_only() -> None:
    assert shown_query("code=abc&state=def") == "code=…&state=…"
    assert shown_query("K3yV4lue") == "…"  # a bare value may be the secret itself
    assert shown_query("") == ""
    assert shown_query("a=&&b") == "a=&&…"  # nothing to hide in an empty value


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("https://billing.example.com/hooks/seatbot", None),
        ("http://127.0.0.1:8766/hooks?token=abc", None),  # the address is judged at send time
        ("https://b.example.com/path@with-at", None),
        ("ftp://billing.example.com/", URL_PROBLEM),
        ("billing.example.com/hooks", URL_PROBLEM),
        ("https://", URL_PROBLEM),
        ("https://:8080/", URL_PROBLEM),
        ("https://user:pass@b.example.com/", CREDENTIALS_PROBLEM),
        ("https://token-only@b.example.com/", CREDENTIALS_PROBLEM),
        ("https://evil.example\\@b.example.com/", CREDENTIALS_PROBLEM),
        ("https://user:pa/ss@b.example.com/", CREDENTIALS_PROBLEM),  # not port "pa"
        ("https://b.example.com/hooks?notify=ops@example.com&t=it's", None),
        ("https://b.example.com/a b", CHARACTER_PROBLEM),
        ('https://b.example.com/?t=ab"c', CHARACTER_PROBLEM),
        ("https://b.example.com/?t=a<b>", CHARACTER_PROBLEM),
        ("https://b.example.com/?t={a|b}^`\\", CHARACTER_PROBLEM),
        ("https://b.example.com/\x7f", CHARACTER_PROBLEM),
        ("https://b.example.com:8443/", None),
        ("https://b.example.com:/", None),
        ("https://b.example.com:65536/", PORT_PROBLEM),
        ("https://b.example.com:8o/", PORT_PROBLEM),
        ("https://[2001:db8::1]:8443/", None),
        ("https://[fe80::1%25eth0]/", None),  # judged link-local at send time
        ("https://[::1/hooks", IPV6_PROBLEM),
        ("https://[127.0.0.1]/", IPV6_PROBLEM),
        ("https://[::1]8443/", PORT_PROBLEM),
        ("https://xn--blling-iwa.example/", None),
        ("https://bïlling.example/", NON_ASCII_HOST_PROBLEM),
        ("https://☃.example/hooks", NON_ASCII_HOST_PROBLEM),
        ("https://billing_stub.internal/", None),
        ("https://b..example/", HOST_PROBLEM),
        ("https://-b.example/", HOST_PROBLEM),
        ("http://93.184.216.34/", None),
        ("http://0177.0.0.1/hooks", IPV4_PROBLEM),  # octal to the resolver, refused by httpx
        ("http://0x7f.1/", IPV4_PROBLEM),
        ("http://2130706433/", IPV4_PROBLEM),
        ("http://1.2.3.256/", IPV4_PROBLEM),
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
        ("fec0::1", "a site-local address (deprecated, not publicly routable)"),
        ("fe80::1%eth0", "a link-local address"),
        ("169.254.169.254", "a cloud metadata address"),
        ("fd00:ec2::254", "a cloud metadata address"),
        ("100.100.100.200", "a cloud metadata address"),
        ("::a9fe:a9fe", "a cloud metadata address"),  # IPv4-compatible
        ("64:ff9b:1::a9fe:a9fe", "a cloud metadata address"),  # RFC 8215 local-use NAT64, /96
        ("64:ff9b:1:a9fe:a9:fe00::", "a cloud metadata address"),  # the same, /48 layout
        ("64:ff9b:1:a9:fe:a9fe::", "a cloud metadata address"),  # /56
        ("64:ff9b:1:0:a9:fea9:fe00:0", "a cloud metadata address"),  # /64
        ("64:ff9b:1::a00:1", "a reserved address (not publicly routable)"),
        ("::a00:1", "a reserved address (not publicly routable)"),
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
    for metadata in (
        "169.254.169.254",
        "fd00:ec2::254",
        "::ffff:169.254.169.254",
        "::a9fe:a9fe",
        "64:ff9b:1::a9fe:a9fe",
        "64:ff9b:1:a9fe:a9:fe00::",
    ):
        assert refused_address(metadata, allow_private=True) == "a cloud metadata address"


# -- generated input (hypothesis): the same rules against URLs and addresses in odd spellings --

#: Text around a URL where it is printed or logged.
AROUND = ("{}", 'HTTP Request: POST {} "HTTP/1.1 204 No Content"', "the ping to {} failed", "<{}>")


@settings(max_examples=200, deadline=None)
@given(url=urls_with_userinfo(), around=st.sampled_from(AROUND))
def test_any_url_with_a_user_or_password_is_refused_and_its_password_never_shown(
    url: str, around: str
) -> None:
    assert webhook_url_problem(url) == CREDENTIALS_PROBLEM
    assert PASSWORD not in shown_url(around.format(url))


@settings(max_examples=200, deadline=None)
@given(url=urls_with_query_secret(), around=st.sampled_from(AROUND))
def test_any_url_may_hold_a_secret_query_value_that_is_never_shown(url: str, around: str) -> None:
    assert webhook_url_problem(url) is None
    httpx.URL(url)  # one that can be sent
    shown = shown_url(around.format(url))
    assert QUERY_SECRET not in shown
    scheme_and_host = re.match(r"[^:]*://(\[[^]]*\]|[^:/?#]*)", url)
    assert scheme_and_host is not None
    assert scheme_and_host.group(0) in shown  # what people need to see stays
    assert len(shown_url(url)) <= len(url)  # fits where the URL fits


@settings(max_examples=500, deadline=None)
@given(url=urls_with_query_secret(odd=True), around=st.sampled_from(AROUND))
def test_a_url_httpx_cannot_send_is_refused_and_a_query_value_never_shown(
    url: str, around: str
) -> None:
    """Hosts, ports and characters a webhook URL may not have: every URL httpx refuses to
    parse is refused by the rule; a query value is never shown (but in a URL cut by white
    space: where it ends in text is not known)."""
    problem = webhook_url_problem(url)
    try:
        httpx.URL(url)
    except httpx.InvalidURL:
        assert problem is not None
    if problem is None:
        assert len(shown_url(url)) <= len(url)
    if not re.search(r"\s", url):
        assert QUERY_SECRET not in shown_url(around.format(url))


#: What each reason says of the address refused, in Python's ``ipaddress`` words.
REASONS: dict[str, Callable[[Address], bool]] = {
    "an unspecified address": lambda a: a.is_unspecified,
    "a loopback address": lambda a: a.is_loopback,
    "a link-local address": lambda a: a.is_link_local,
    "a multicast address": lambda a: a.is_multicast,
    "a private address": lambda a: a.is_private,
    "a site-local address (deprecated, not publicly routable)": lambda a: (
        isinstance(a, IPv6Address) and a.is_site_local
    ),
    "a reserved address (not publicly routable)": lambda a: a.is_reserved or not a.is_global,
    METADATA_REASON: lambda a: a in METADATA,
}


@settings(max_examples=500, deadline=None)
@given(resolved=resolved_addresses())
def test_an_address_is_refused_exactly_when_not_public_and_metadata_even_when_allowed(
    resolved: tuple[str, Address],
) -> None:
    """However the resolver spells it (an IPv4 address wrapped in IPv6 is judged as the IPv4
    address a connection reaches), the reason is true of the address; the operator's opt-in
    lets everything through but the cloud metadata addresses."""
    text, reached = resolved
    reason = refused_address(text)
    allowed = refused_address(text, allow_private=True)
    if reached in METADATA:
        assert reason == allowed == METADATA_REASON
        return
    assert (reason is None) == public(reached)
    assert reason is None or REASONS[reason](reached)
    assert allowed is None


@pytest.mark.parametrize(
    "url",
    [
        # A raw "@" after a port or an IPv6 host is not the end of a password.
        f"https://b.example.com:8443/hooks?notify=ops@example.com&token={QUERY_SECRET}",
        f"https://[2001:db8::1]/hooks?notify=ops@example.com&token={QUERY_SECRET}",
        # A "'" (allowed in a query by RFC 3986) or '"', "<", ">" (refused by load, but maybe
        # in a log line) does not end the URL.
        f"https://b.example.com/hooks?token=ab'{QUERY_SECRET}",
        f'https://b.example.com/hooks?token=ab"{QUERY_SECRET}',
        f"https://b.example.com/hooks?token=ab<{QUERY_SECRET}>",
        # A "'" or "/" in a password (in a log line, say).
        f"https://user:ab'{PASSWORD}@b.example.com/hooks",
        f"https://user:ab/{PASSWORD}@b.example.com/hooks",
    ],
)
def test_shown_url_never_shows_a_query_value_or_password_after_an_odd_character(
    url: str,
) -> None:
    shown = shown_url(url)
    assert QUERY_SECRET not in shown
    assert PASSWORD not in shown


def test_the_shown_form_of_an_accepted_url_fits_where_it_is_stored() -> None:
    """An empty value or part is shown as it is: a URL of 1,999 characters, 1,975 of them
    "&", is shown in 1,999, and fits billing_webhooks.url (2,000), which held 3,975 before."""
    url = "https://b.example.com/h?" + "&" * (MAX_URL_LENGTH - 25)
    assert webhook_url_problem(url) is None
    assert len(shown_url(url)) <= MAX_URL_LENGTH
