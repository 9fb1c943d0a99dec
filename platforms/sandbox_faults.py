"""The sandbox's fault switches: what can go wrong, for which requests, how many times.

A :class:`Fault` describes one switch (from JSON on the admin surface or ``--fault`` on the
command line); :class:`FaultSwitches` holds the switches that are on and decides, for each
request, how long to delay it and which failing fault (if any) answers it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, get_args

from platforms.sandbox_users import SandboxRequestError

FaultKind = Literal[
    "latency",
    "slow_page",
    "rate_limit",
    "server_error",
    "expired_token",
    "broken_page",
    "malformed_json",
]
FAULT_KINDS: tuple[str, ...] = get_args(FaultKind)
Endpoint = Literal["users", "token"]

# Faults that only make sense on a listing page.
_USERS_ONLY = ("slow_page", "expired_token", "broken_page")
# Faults that delay a request rather than answer it.
_DELAYS = ("latency", "slow_page")


@dataclass
class Fault:
    """One fault switch.

    ``times`` is how many matching requests it affects (``None``: until cleared). ``tenant``,
    ``product``, ``endpoint`` and ``page`` narrow which requests match (``None``: any).
    ``ms`` is the added delay for ``latency``/``slow_page``; ``retry_after`` the header sent with
    ``rate_limit`` (seconds; ``retry_after_http_date`` sends it as an HTTP date instead).
    ``broken_page`` truncates the matching page (default page 2) to half its users while the
    total still counts them all; ``expired_token`` answers 401 as if the token had expired.
    """

    kind: FaultKind
    times: int | None = None
    tenant: str | None = None
    product: str | None = None
    endpoint: Endpoint | None = None
    page: int | None = None
    ms: int = 0
    retry_after: int = 1
    retry_after_http_date: bool = False

    @classmethod
    def from_json(cls, raw: object) -> Fault:
        """Build a fault from its JSON form; raise :class:`SandboxRequestError` if invalid."""
        if not isinstance(raw, dict) or raw.get("kind") not in FAULT_KINDS:
            raise SandboxRequestError(f"a fault needs a kind, one of {', '.join(FAULT_KINDS)}")
        known = set(cls.__dataclass_fields__)
        unknown = set(raw) - known
        if unknown:
            raise SandboxRequestError(f"unknown fault fields: {', '.join(sorted(unknown))}")
        for name, value in raw.items():
            if value is not None and not isinstance(value, _FAULT_FIELD_TYPES[name]):
                raise SandboxRequestError(f"fault field {name} has the wrong type")
            if name in ("times", "ms", "retry_after", "page") and isinstance(value, bool):
                raise SandboxRequestError(f"fault field {name} must be a number")
        if raw.get("endpoint") not in (None, "users", "token"):
            raise SandboxRequestError("fault endpoint must be users or token")
        fault = cls(**raw)
        if fault.kind == "broken_page" and fault.page is None:
            fault.page = 2
        return fault

    @classmethod
    def parse_option(cls, option: str) -> Fault:
        """Parse a command-line fault such as ``rate_limit:times=1,retry_after=2``."""
        kind, _, rest = option.partition(":")
        raw: dict[str, object] = {"kind": kind}
        for pair in filter(None, rest.split(",")):
            key, _, value = pair.partition("=")
            raw[key] = int(value) if value.lstrip("-").isdigit() else value
        if raw.get("retry_after_http_date") in ("true", 1):
            raw["retry_after_http_date"] = True
        return cls.from_json(raw)

    def matches(self, tenant: str, product: str, endpoint: Endpoint, page: int | None) -> bool:
        """Whether this fault applies to a request."""
        if self.kind in _USERS_ONLY and endpoint != "users":
            return False
        return (
            (self.tenant is None or self.tenant == tenant)
            and (self.product is None or self.product == product)
            and (self.endpoint is None or self.endpoint == endpoint)
            and (self.page is None or self.page == page)
        )


_FAULT_FIELD_TYPES: dict[str, type | tuple[type, ...]] = {
    "kind": str,
    "times": int,
    "tenant": str,
    "product": str,
    "endpoint": str,
    "page": int,
    "ms": int,
    "retry_after": int,
    "retry_after_http_date": bool,
}


class FaultSwitches:
    """The faults that are on, in the order they were switched on.

    ``active`` is the live list (the sandbox shows it on ``GET /_sandbox/faults``).
    """

    def __init__(self, faults: Iterable[Fault] = ()) -> None:
        self.active: list[Fault] = list(faults)

    def add(self, fault: Fault) -> None:
        """Switch a fault on."""
        self.active.append(fault)

    def clear(self) -> None:
        """Switch every fault off."""
        self.active.clear()

    def trigger(
        self, tenant: str, product: str, endpoint: Endpoint, page: int | None
    ) -> tuple[int, Fault | None]:
        """What the faults do to one request: the delay (ms) of every matching delay fault,
        and the first matching failing fault, which answers the request (or ``None``).

        Each fault that acts counts one use off ``times`` and switches off at zero; a failing
        fault after the first keeps its count.
        """
        delay_ms = 0
        firing: Fault | None = None
        for fault in list(self.active):
            if not fault.matches(tenant, product, endpoint, page):
                continue
            if fault.kind in _DELAYS:
                delay_ms += fault.ms
            elif firing is None:
                firing = fault
            else:
                continue
            if fault.times is not None:
                fault.times -= 1
                if fault.times <= 0:
                    self.active.remove(fault)
        return delay_ms, firing
