"""Which platform holds an account's users: built from the ``platform_connections`` rows.

One :class:`PlatformDirectory` per process owns the one shared httpx transport (connection
pool) and the one :class:`platforms.HostLimits`, so every account's client shares them. It
also keeps one client per (account, product) while the stored connection is unchanged, so an
Axiom access token (valid for hours) is exchanged once, not on every listing; the clients it
hands out ignore ``aclose()`` (the directory closes them in its own). This cache is for speed
only: a changed connection row is noticed on the next call, and a fresh process starts empty.

A row's ``options`` is a JSON object; the keys read here are

* ``api_key`` and ``login_email`` (Axiom), ``token`` (Contact Center, Matrix): credentials;
* ``paths``: endpoint path overrides, e.g. ``{"users": "/api/v2/users"}``;
* ``page_size``: users per page;
* ``timeouts``: ``{"connect_s", "read_s", "listing_deadline_s"}`` in seconds;
* ``retry``: ``{"max_attempts", "backoff_initial_s", "backoff_max_s", "retry_after_cap_s"}``.

Credentials are handed to the log redactor as soon as they are read.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import fields
from pathlib import Path
from typing import Any, TypeVar

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from billing.models import READ_ONLY_OPTION
from billing.models import PlatformConnection as PlatformConnectionRow
from billing.products import ConnectionKind
from bot.logging_setup import SecretRedactor
from platforms import (
    HostLimits,
    Platform,
    PlatformConfigError,
    PlatformConnection,
    PlatformUser,
    Product,
    RetryPolicy,
    Timeouts,
    build_platform,
)

DEFAULT_MAX_CONNECTIONS = 100
DEFAULT_MAX_KEEPALIVE = 20
DEFAULT_PER_HOST = 8

_Settings = TypeVar("_Settings", Timeouts, RetryPolicy)


class PlatformDirectory:
    """``platform_for(account_id, product)``: the account's platform, or ``None`` when no
    connection is configured. Reads the database, so call it off the event loop."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        limits: HostLimits | None = None,
        redactor: SecretRedactor | None = None,
    ) -> None:
        self._sessions = session_factory
        self._owns_transport = transport is None
        self.transport = transport or httpx.AsyncHTTPTransport(
            limits=httpx.Limits(
                max_connections=DEFAULT_MAX_CONNECTIONS,
                max_keepalive_connections=DEFAULT_MAX_KEEPALIVE,
            ),
            retries=0,  # the platform clients retry, with backoff and Retry-After
        )
        self.limits = limits or HostLimits(per_host=DEFAULT_PER_HOST)
        self._redactor = redactor
        self._lock = threading.Lock()  # platform_for runs in worker threads
        self._clients: dict[tuple[int, Product], tuple[str, Platform]] = {}
        self._retired: list[Platform] = []

    def platform_for(self, account_id: int, product: Product) -> Platform | None:
        """Build the platform source for ``account_id``'s ``product``.

        Raises :class:`platforms.PlatformConfigError` when the stored connection is unusable.
        """
        with self._sessions() as session:
            read_only: dict[str, Any] = {READ_ONLY_OPTION: True}
            session.connection(execution_options=read_only)
            row = session.scalars(
                select(PlatformConnectionRow).where(
                    PlatformConnectionRow.account_id == account_id,
                    PlatformConnectionRow.product == product.value,
                )
            ).first()
            if row is None:
                return None
            fingerprint = _fingerprint(row)
            key = (account_id, product)
            with self._lock:
                cached = self._clients.get(key)
            if cached is not None and cached[0] == fingerprint:
                return _Borrowed(cached[1])
            connection = connection_from_row(row)
        if self._redactor is not None:
            self._redactor.add(connection.api_key, connection.token)
        platform = build_platform(connection, transport=self.transport, limits=self.limits)
        with self._lock:
            previous = self._clients.get(key)
            self._clients[key] = (fingerprint, platform)
            if previous is not None:
                self._retired.append(previous[1])
        return _Borrowed(platform)

    async def aclose(self) -> None:
        """Close every client handed out, then the shared transport (if this directory made it)."""
        with self._lock:
            platforms = [p for _, p in self._clients.values()] + self._retired
            self._clients.clear()
            self._retired.clear()
        for platform in platforms:
            await platform.aclose()
        if self._owns_transport:
            await self.transport.aclose()


class _Borrowed:
    """A directory-owned platform as callers see it: ``aclose()`` leaves it open for reuse."""

    def __init__(self, platform: Platform) -> None:
        self._platform = platform

    @property
    def product(self) -> Product:
        return self._platform.product

    @property
    def label(self) -> str:
        return self._platform.label

    async def list_users(self) -> list[PlatformUser]:
        return await self._platform.list_users()

    async def aclose(self) -> None:
        """Nothing to do: the directory closes the client when the process stops."""


def _fingerprint(row: PlatformConnectionRow) -> str:
    """Changes whenever anything that shapes the client changes (credentials included)."""
    material = json.dumps([row.kind, row.base_url, row.file_path, row.options])
    return hashlib.sha256(material.encode()).hexdigest()


def connection_from_row(row: PlatformConnectionRow) -> PlatformConnection:
    """The platforms package's connection settings for one stored row."""
    product = Product(row.product)
    try:
        options = json.loads(row.options or "{}")
    except json.JSONDecodeError as error:
        raise _config_error(product, "its options are not valid JSON") from error
    if not isinstance(options, dict):
        raise _config_error(product, "its options are not a JSON object")
    paths = options.get("paths") or {}
    if not isinstance(paths, dict) or not all(isinstance(v, str) for v in paths.values()):
        raise _config_error(product, "'paths' must map names to paths")
    try:
        kind = ConnectionKind(row.kind)
    except ValueError:
        raise _config_error(product, f"its kind {row.kind!r} is unknown") from None
    return PlatformConnection(
        product=product,
        kind=kind,
        base_url=row.base_url,
        paths=dict(paths),
        api_key=_optional_str(options, "api_key", product),
        login_email=_optional_str(options, "login_email", product),
        token=_optional_str(options, "token", product),
        file_path=Path(row.file_path) if row.file_path else None,
        timeouts=_dataclass_from(Timeouts, options.get("timeouts"), product),
        retry=_dataclass_from(RetryPolicy, options.get("retry"), product),
        page_size=_page_size(options, product),
    )


def _optional_str(options: dict[str, Any], key: str, product: Product) -> str | None:
    value = options.get(key)
    if value is None or isinstance(value, str):
        return value
    raise _config_error(product, f"'{key}' must be text")


def _page_size(options: dict[str, Any], product: Product) -> int:
    value = options.get("page_size", 100)
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    raise _config_error(product, "'page_size' must be a positive whole number")


def _dataclass_from(kind: type[_Settings], raw: Any, product: Product) -> _Settings:
    if raw is None:
        return kind()
    known = {f.name for f in fields(kind)}
    if not isinstance(raw, dict) or not set(raw) <= known:
        raise _config_error(product, f"its {kind.__name__} settings take only {sorted(known)}")
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in raw.values()):
        raise _config_error(product, f"its {kind.__name__} settings must be numbers")
    return kind(**raw)


def _config_error(product: Product, problem: str) -> PlatformConfigError:
    # Fixed text only: never echo option values, which may be credentials.
    return PlatformConfigError(
        f"The {product.label} connection is misconfigured: {problem}. "
        "Ask the operator to fix it with `seatbot load`.",
        product_label=product.label,
    )
