"""What a billing webhook destination may be: the rules, as pure functions over plain values.

* Its URL is ``http://`` or ``https://`` with a host, and carries no credentials before the
  host (``user:password@``): a receiver authenticates each event by its signature, and a
  password in a URL ends up in logs and screens. A secret in the query string is allowed (some
  receivers want one); it is stored encrypted and shown as ``…``
  (:func:`billing.formatting.shown_url`).
* It is a URL that can be sent as written, so that it is refused when it is loaded rather
  than at every attempt: no character RFC 3986 never allows unencoded (a space, a control
  character, ``" < > \\ ^ ` { | }``); a port that is a number up to 65535; a host that is a
  DNS name in ASCII (an internationalised name in its ``xn--`` form), an IPv4 address in
  dotted decimal (not ``0177.0.0.1`` or ``0x7f.1``, which resolvers and URL parsers read
  differently), or an IPv6 address in brackets. It is at most :data:`MAX_URL_LENGTH`
  characters long.
* The addresses its host resolves to, checked at every attempt, are public ones: loopback,
  private, link-local, site-local (``fec0::/10``, deprecated), multicast, reserved and
  unspecified addresses are refused unless the operator allows private destinations; cloud
  metadata addresses are refused always (no billing system lives there, and a request to one
  can hand out the machine's credentials), also inside an IPv6 address that may lead to them
  (IPv4-mapped, IPv4-compatible, 6to4, NAT64 ``64:ff9b::/96`` and ``64:ff9b:1::/48``).
"""

from __future__ import annotations

import re
from ipaddress import IPv4Address, IPv6Address, ip_address, ip_network

from billing.formatting import has_userinfo

MAX_URL_LENGTH = 2000  # billing_webhooks.url's size (a URL's shown form is never longer)

URL_PROBLEM = "must be an http:// or https:// URL"
CREDENTIALS_PROBLEM = (
    "holds a user name or password before the host (user:password@…): put no credentials in "
    "the URL; the receiver checks each event's signature instead"
)
CHARACTER_PROBLEM = (
    "holds a character a URL may not hold unencoded (a space, a control character or one of "
    '" < > \\ ^ ` { | }): percent-encode it'
)
PORT_PROBLEM = "has a port that is not a number from 0 to 65535"
IPV6_PROBLEM = "has a host in brackets that is not an IPv6 address"
IPV4_PROBLEM = (
    "names an IPv4 address other than in dotted decimal: write four numbers from 0 to 255 "
    "without leading zeros (like 192.0.2.10)"
)
NON_ASCII_HOST_PROBLEM = "has a host name that is not ASCII: write it in its ASCII (xn--…) form"
HOST_PROBLEM = (
    "has a host name that is not a DNS name (dot-separated labels of letters, digits, hyphens "
    "and underscores)"
)

# The scheme and the authority (up to the first '/', '?' or '#').
_WEBHOOK_URL = re.compile(r"(?i)https?://([^/?#]+)")
# What RFC 3986 never lets a URL hold unencoded, in any part; and what is not printable.
_NEVER_IN_A_URL = re.compile(r'[\s"<>\\^`{|}]')
# WHATWG's "ends in a number": a host whose last label is a number names an IPv4 address.
_ENDS_IN_A_NUMBER = re.compile(r"(?i)(?:^|\.)(?:[0-9]+|0x[0-9a-f]*)\.?$")
_LABEL = r"(?!-)[a-z0-9_-]{1,63}(?<!-)"
_DNS_NAME = re.compile(rf"(?i)(?!.{{254}})(?:{_LABEL}\.)*{_LABEL}\.?")

#: Instance metadata services (AWS, incl. ECS and IPv6; GCP and Azure share 169.254.169.254;
#: Alibaba; Oracle): never a destination, whatever the operator allows.
CLOUD_METADATA = frozenset(
    ip_address(text)
    for text in (
        "169.254.169.254",
        "169.254.170.2",
        "fd00:ec2::254",
        "100.100.100.200",
        "192.0.0.192",
    )
)
_NAT64 = ip_network("64:ff9b::/96")
_IPV4_COMPATIBLE = ip_network("::/96")  # deprecated (RFC 4291), still routed by some stacks
_LOCAL_NAT64 = ip_network("64:ff9b:1::/48")  # RFC 8215: any RFC 6052 layout, operator's choice
METADATA_REASON = "a cloud metadata address"


def webhook_url_problem(url: str) -> str | None:
    """What is wrong with ``url`` as a webhook destination (a sentence that never quotes it),
    or ``None``. Its addresses are judged when it is used (:func:`refused_address`)."""
    if len(url) > MAX_URL_LENGTH:
        return f"is longer than {MAX_URL_LENGTH} characters"
    match = _WEBHOOK_URL.match(url)
    if match is None:
        return URL_PROBLEM
    if has_userinfo(url):
        return CREDENTIALS_PROBLEM
    if _NEVER_IN_A_URL.search(url) or not url.isprintable():
        return CHARACTER_PROBLEM
    return _authority_problem(match.group(1))


def _authority_problem(authority: str) -> str | None:
    """What is wrong with ``host[:port]`` (no userinfo): what httpx would refuse, and more."""
    if authority.startswith("["):
        host, bracket, port = authority[1:].partition("]")
        try:
            IPv6Address(host)
        except ValueError:
            return IPV6_PROBLEM
        if not bracket:
            return IPV6_PROBLEM
        if port and not port.startswith(":"):
            return PORT_PROBLEM
        port = port[1:]
    else:
        host, _, port = authority.partition(":")
        if not host.isascii():
            return NON_ASCII_HOST_PROBLEM
        if _ENDS_IN_A_NUMBER.search(host):
            try:
                IPv4Address(host)
            except ValueError:
                return IPV4_PROBLEM
        elif not _DNS_NAME.fullmatch(host):
            return URL_PROBLEM if not host else HOST_PROBLEM
    if port and not (port.isascii() and port.isdigit() and int(port) <= 65535):
        return PORT_PROBLEM
    return None


def _embedded_ipv4(address: IPv4Address | IPv6Address) -> IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, 6to4, NAT64), which is where a
    connection to it ends up."""
    if isinstance(address, IPv4Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64:
        return IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _may_lead_to_metadata(address: IPv4Address | IPv6Address) -> bool:
    """Whether ``address`` is a cloud metadata address, or an IPv6 address whose IPv4 address,
    in a form some network may translate or tunnel, is one: IPv4-compatible (``::a9fe:a9fe``)
    or the local-use NAT64 prefix in any of RFC 6052's layouts (bits 48-63 and 72-87, 56-63
    and 72-95, 72-103, or 96-127)."""
    if address in CLOUD_METADATA:
        return True
    if not isinstance(address, IPv6Address):
        return False
    value = int(address)
    carried = []
    if address in _IPV4_COMPATIBLE:
        carried.append(value & 0xFFFFFFFF)
    if address in _LOCAL_NAT64:
        carried += [
            (value >> 64 & 0xFFFF) << 16 | value >> 40 & 0xFFFF,
            (value >> 64 & 0xFF) << 24 | value >> 32 & 0xFFFFFF,
            value >> 24 & 0xFFFFFFFF,
            value & 0xFFFFFFFF,
        ]
    return any(IPv4Address(v4) in CLOUD_METADATA for v4 in carried)


def refused_address(address: str, *, allow_private: bool = False) -> str | None:
    """Why a webhook may not be sent to ``address`` (an IP address as a resolver gives it,
    maybe with an IPv6 zone: ``fe80::1%eth0``), as words (``"a loopback address"``), or ``None``
    when it may. ``allow_private`` (the operator's opt-in) lets every address through but the
    cloud metadata ones."""
    try:
        parsed = ip_address(address.partition("%")[0])
    except ValueError:
        return "not an IP address"
    parsed = _embedded_ipv4(parsed) or parsed
    if _may_lead_to_metadata(parsed):
        return METADATA_REASON
    if allow_private:
        return None
    if parsed.is_unspecified:
        return "an unspecified address"
    if parsed.is_loopback:
        return "a loopback address"
    if parsed.is_link_local:
        return "a link-local address"
    if parsed.is_multicast:
        return "a multicast address"
    if parsed.is_reserved:
        return "a reserved address (not publicly routable)"
    if parsed.is_private:
        return "a private address"
    if isinstance(parsed, IPv6Address) and parsed.is_site_local:
        return "a site-local address (deprecated, not publicly routable)"
    if not parsed.is_global:
        return "a reserved address (not publicly routable)"
    return None
