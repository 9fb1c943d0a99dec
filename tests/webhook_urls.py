"""Generated webhook destinations for the property tests of issue 16's rules
(:mod:`billing.events.destinations`, :func:`billing.formatting.shown_url`, the send-time guard):
URLs that carry a password or a secret query value, spelled as an attacker or a careless
operator might (a raw ``@`` or ``'`` in the path or query), URLs that may not be sendable at
all, and addresses as a resolver answers them, each with the address a connection to it
reaches. Also the accounts file that names one webhook URL.
"""

from __future__ import annotations

import json
import string
from ipaddress import IPv4Address, IPv6Address, ip_address, ip_network
from pathlib import Path

from hypothesis import strategies as st

Address = IPv4Address | IPv6Address

#: What generated secrets end with: a query value, a password. Neither may ever be shown.
QUERY_SECRET = "q-secret-7f3a9c1e"
PASSWORD = "pw-secret-51e0b84d"

#: The cloud metadata addresses :mod:`billing.events.destinations` documents as never reachable.
METADATA = frozenset(
    ip_address(text)
    for text in (
        "169.254.169.254",
        "169.254.170.2",
        "fd00:ec2::254",
        "100.100.100.200",
        "192.0.0.192",
    )
)


def public(address: Address) -> bool:
    """Whether Python's ``ipaddress`` calls ``address`` public: global, and none of loopback,
    private, link-local, site-local (deprecated, ``fec0::/10``), multicast, reserved or
    unspecified."""
    return address.is_global and not (
        (isinstance(address, IPv6Address) and address.is_site_local)
        or address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
    )


# -- addresses ---------------------------------------------------------------------------------

#: IPv6 addresses that carry an IPv4 address, where a connection to them ends up: generated
#: from the IPv4 address they wrap (below), so that what they reach is known.
_WRAPPERS = {
    "mapped": (ip_network("::ffff:0:0/96"), 0xFFFF << 32),
    "6to4": (ip_network("2002::/16"), 0x2002 << 112),
    "nat64": (ip_network("64:ff9b::/96"), 0x64FF9B << 96),
}
_targets: st.SearchStrategy[Address] = st.one_of(
    st.ip_addresses(v=4),
    st.ip_addresses(v=6).filter(lambda a: not any(a in net for net, _ in _WRAPPERS.values())),
    st.sampled_from(sorted(METADATA, key=str)),
)


_ZONES = st.sampled_from(["eth0", "1", "en0"])


@st.composite
def resolved_addresses(
    draw: st.DrawFn, zones: st.SearchStrategy[str] = _ZONES
) -> tuple[str, Address]:
    """An address as a resolver may answer it (IPv4, or IPv6 compressed or exploded, any case,
    maybe with a zone; an IPv4 address maybe wrapped in IPv4-mapped, 6to4 or NAT64 IPv6), and
    the address a connection to it reaches."""
    target = draw(_targets)
    if isinstance(target, IPv4Address):
        wrap = draw(st.sampled_from([None, *_WRAPPERS]))
        if wrap is None:
            return str(target), target
        if wrap == "mapped" and draw(st.booleans()):
            return f"::FFFF:{target}" if draw(st.booleans()) else f"::ffff:{target}", target
        prefix = _WRAPPERS[wrap][1]
        subnet = draw(st.integers(0, 2**80 - 1)) if wrap == "6to4" else 0
        address = IPv6Address(prefix | int(target) << (80 if wrap == "6to4" else 0) | subnet)
    else:
        address = target
    text = draw(st.sampled_from([address.compressed, address.exploded]))
    text = text.upper() if draw(st.booleans()) else text
    return text + (f"%{draw(zones)}" if draw(st.booleans()) else ""), target


@st.composite
def ipv4_spellings(draw: st.DrawFn, address: IPv4Address) -> str:
    """``address`` as inet_aton(3), so the system's resolver, reads it: one to four parts (the
    last fills the bits left), each decimal, octal (``0177``) or hex (``0x7f``)."""
    value = int(address)
    numbers = draw(
        st.sampled_from(
            [
                [value],
                [value >> 24, value & 0xFFFFFF],
                [value >> 24, value >> 16 & 0xFF, value & 0xFFFF],
                [value >> 24, value >> 16 & 0xFF, value >> 8 & 0xFF, value & 0xFF],
            ]
        )
    )
    parts = [draw(st.sampled_from([str(n), f"0{n:o}", f"0x{n:x}", f"0X{n:X}"])) for n in numbers]
    return ".".join(parts)


@st.composite
def numeric_hosts(draw: st.DrawFn, *, any_spelling: bool = True) -> tuple[str, Address]:
    """A URL's host naming an address without DNS (an IPv4 address in any spelling the
    resolver reads, or only in dotted decimal; a bracketed IPv6 address maybe with a zone),
    and the address reached."""
    text, target = draw(resolved_addresses(zones=st.integers(1, 9).map(str)))
    if isinstance(target, IPv4Address) and ":" not in text:
        return (draw(ipv4_spellings(target)) if any_spelling else text), target
    return "[" + text.replace("%", "%25") + "]", target


# -- URLs --------------------------------------------------------------------------------------

_UNRESERVED = string.ascii_letters + string.digits + "-._~"
_SUB_DELIMS = "!$&'()*+,;="
_ESCAPES = ["%40", "%3A", "%3a", "%25", "%26", "%3D", "%23", "%3F", "%2F", "%27", "%20", "%C3%A9"]


def _text(alphabet: str) -> st.SearchStrategy[str]:
    """Up to eight characters of ``alphabet`` or percent-escapes (``%40`` is an escaped "@")."""
    return st.lists(st.sampled_from(alphabet) | st.sampled_from(_ESCAPES), max_size=8).map("".join)


_labels = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?", fullmatch=True)
#: Hosts a webhook URL may have: DNS names (internationalised ones in their ASCII form:
#: bïlling.example, 例え.テスト, пример.испытание), IPv4 in dotted decimal, IPv6 in brackets.
hosts = st.one_of(
    st.builds(
        lambda labels, tld: ".".join([*labels, tld]),
        st.lists(_labels, min_size=1, max_size=3),
        st.sampled_from(["com", "example", "internal", "COM"]),
    ),
    st.sampled_from(
        ["xn--blling-iwa.example", "xn--r8jz45g.xn--zckzah", "xn--e1afmkfd.xn--80akhbyknj4f"]
    ),
    st.just("localhost"),
    numeric_hosts(any_spelling=False).map(lambda host: host[0]),
)
#: Hosts a webhook URL may not have: not sendable (httpx refuses ☃, 0177.0.0.1, [::1), or
#: read differently by the resolver and URL parsers (0x7f.1, 2130706433), or no DNS name.
odd_hosts = st.one_of(
    st.sampled_from(
        [
            "bïlling.example",
            "例え.テスト",
            "☃.example",
            "a\u200db.example",
            "ａｂ.example",
            "EXAMPLE.ÇOM",
        ]
    ),
    numeric_hosts().map(lambda host: host[0]),
    st.sampled_from(["[::1", "[2001:db8::g]", "[127.0.0.1]", "[]", "a..b", "-a.example", "%41.b"]),
)
_paths = st.tuples(
    st.sampled_from(["/", "/hooks/", "/a/b%40c:d/"]), _text(_UNRESERVED + _SUB_DELIMS + ":@/")
).map("".join)
_ports = st.sampled_from(["", ":443", ":8080", ":0", ":65535"])
_odd_ports = st.sampled_from([":65536", ":99999", ":8o", ":-1", ":+80", ":\u0663", ":1_0"])
_authority_ends = st.tuples(_ports, st.just("") | _paths).map("".join)
#: What RFC 3986 never lets a URL hold unencoded (and what is not printable).
_STRAY = st.sampled_from(
    [" ", '"', "<", ">", "\\", "^", "`", "{", "|", "}", "\t", "\n", "\x00", "\x7f", "\u200b"]
)
_fragments = st.sampled_from(["", "#", "#frag", "#a?b=c"])


@st.composite
def urls_with_query_secret(draw: st.DrawFn, *, odd: bool = False) -> str:
    """An http(s) URL without credentials whose query holds :data:`QUERY_SECRET` at the end of
    a value (``name=…``, or a bare part), among other parts. ``odd``: maybe not a URL a webhook
    may have (:data:`odd_hosts`, a port that is no number up to 65535, a character RFC 3986
    never allows unencoded after the host)."""
    scheme = draw(st.sampled_from(["http", "https", "HTTPS", "Http"]))
    query_text = _text(_UNRESERVED + _SUB_DELIMS + ":@/?")
    secret = draw(query_text) + QUERY_SECRET
    if draw(st.booleans()):
        secret = draw(st.text(_UNRESERVED, min_size=1, max_size=8)) + "=" + secret
    parts = draw(st.lists(query_text, max_size=3))
    parts.insert(draw(st.integers(0, len(parts))), secret)
    rest = draw(st.just("") | _paths) + "?" + "&".join(parts) + draw(_fragments)
    if odd and draw(st.booleans()):
        at = draw(st.integers(0, len(rest)))
        rest = rest[:at] + draw(_STRAY) + rest[at:]
    host = draw(hosts | odd_hosts if odd else hosts)
    return f"{scheme}://{host}{draw(_ports | _odd_ports if odd else _ports)}{rest}"


@st.composite
def urls_with_userinfo(draw: st.DrawFn) -> str:
    """An http(s) URL with ``user@`` or ``user:password@`` before its host; a password ends
    with :data:`PASSWORD` (and may hold ``:`` and escaped ``@``). Maybe a query and fragment."""
    scheme = draw(st.sampled_from(["http", "https", "HTTPS"]))
    user = draw(_text(_UNRESERVED + _SUB_DELIMS))
    if draw(st.booleans()):
        user += ":" + draw(_text(_UNRESERVED + _SUB_DELIMS + ":")) + PASSWORD
    query = draw(st.sampled_from(["", "?token=abc", "?a=1&b"]))
    host = draw(hosts | odd_hosts)  # refused for its credentials first, whatever its host
    return f"{scheme}://{user}@{host}{draw(_authority_ends)}{query}{draw(_fragments)}"


#: URLs httpx cannot parse, which ``seatbot load`` stored before the rule refused them.
UNPARSABLE = [
    "http://0177.0.0.1/hooks",  # octal 127.0.0.1 to the resolver; httpx will not parse it
    "https://☃.example/hooks",  # not IDNA
    "https://[::1/hooks",
    "https://user:pa/ss@b.example.com/hooks",  # a password with "/": to httpx, port "pa"
]


def accounts_yaml(tmp_path: Path, url: str, secret: str) -> Path:
    """An accounts file of one account, ``hooked``, whose billing webhook is ``url`` (line 7)."""
    path = tmp_path / "accounts.yml"
    path.write_text(
        "accounts:\n"
        "  - name: hooked\n"
        "    currency: USD\n"
        "    slack:\n"
        "      team_id: T0HOOKED1\n"
        "    billing_webhook:\n"
        f"      url: {json.dumps(url)}\n"
        f"      secret: {secret}\n"
    )
    return path
