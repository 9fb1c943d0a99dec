"""What a billing webhook destination may be: the rules, as pure functions over plain values.

* Its URL is ``http://`` or ``https://`` with a host, and carries no credentials before the
  host (``user:password@``): a receiver authenticates each event by its signature, and a
  password in a URL ends up in logs and screens. A secret in the query string is allowed (some
  receivers want one); it is stored encrypted and shown as ``…``
  (:func:`billing.formatting.shown_url`).
* The addresses its host resolves to, checked at every attempt, are public ones: loopback,
  private, link-local, multicast, reserved and unspecified addresses are refused unless the
  operator allows private destinations; cloud metadata addresses are refused always (no
  billing system lives there, and a request to one can hand out the machine's credentials).
"""

from __future__ import annotations

import re
from ipaddress import IPv4Address, IPv6Address, ip_address, ip_network

MAX_URL_LENGTH = 2000  # billing_webhooks.url's size

URL_PROBLEM = "must be an http:// or https:// URL"
CREDENTIALS_PROBLEM = (
    "holds a user name or password before the host (user:password@…): put no credentials in "
    "the URL; the receiver checks each event's signature instead"
)

# The scheme, the authority (up to the first '/', '?' or '#'), then anything but white space.
_WEBHOOK_URL = re.compile(r"^https?://([^/\s?#]+)[^\s]*$", re.IGNORECASE)

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
METADATA_REASON = "a cloud metadata address"


def webhook_url_problem(url: str) -> str | None:
    """What is wrong with ``url`` as a webhook destination (a sentence that never quotes it),
    or ``None``. Its addresses are judged when it is used (:func:`refused_address`)."""
    if len(url) > MAX_URL_LENGTH:
        return f"is longer than {MAX_URL_LENGTH} characters"
    match = _WEBHOOK_URL.fullmatch(url)
    if match is None:
        return URL_PROBLEM
    if "@" in match.group(1):
        return CREDENTIALS_PROBLEM
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
    if parsed in CLOUD_METADATA:
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
    if not parsed.is_global:
        return "a reserved address (not publicly routable)"
    return None
