"""Which platform holds an account's users: built from the ``platform_connections`` rows.

One :class:`PlatformDirectory` per process owns the one shared httpx transport (connection
pool) and the one :class:`platforms.HostLimits`, so every account's client shares them. It
also keeps one client per (account, product) while the stored connection is unchanged, so an
Axiom access token (valid for hours) is exchanged once, not on every listing; the clients it
hands out ignore ``aclose()`` (the directory closes them in its own). This cache is for speed
only: a changed connection row is noticed on the next call, and a fresh process starts empty.
It keeps the ``max_clients`` most recently used clients, so that reconciling 10,000 accounts
does not keep 30,000 clients for the life of the process: an older one is dropped without
closing, which is safe because a client owns no connection (it borrows the directory's
transport), and one still listing finishes with it.

:meth:`PlatformDirectory.platforms_for` builds the products of several accounts from one read
of the database (a reconciliation asks for three products of a chunk of accounts at once).

A row's ``options`` is a JSON object of settings (none of them secret):

* ``paths``: endpoint path overrides, e.g. ``{"users": "/api/v2/users"}``;
* ``page_size``: users per page;
* ``timeouts``: ``{"connect_s", "read_s", "listing_deadline_s"}`` in seconds;
* ``retry``: ``{"max_attempts", "backoff_initial_s", "backoff_max_s", "retry_after_cap_s"}``.

Its credentials (``api_key`` and ``login_email`` for Axiom, ``token`` for Contact Center and
Matrix) are in ``credentials_encrypted``, decrypted here when a client is built (see
``bot.runtime.platform_credentials``) and handed to the log redactor at once. A row whose
credentials cannot be decrypted (its key was removed) or that still holds credentials in clear fails
closed: the owner is told the connection is misconfigured, the operator's log says why.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any, TypeVar

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from billing.errors import ConfigurationError, DecryptionError
from billing.models import READ_ONLY_OPTION
from billing.products import ConnectionKind
from billing.setup import PlatformConnection as PlatformConnectionRow
from bot.runtime.logging_setup import SecretRedactor
from bot.runtime.platform_credentials import (
    PlatformCredentials,
    plaintext_credential_keys,
    unseal,
)
from bot.runtime.secrets import TokenCipher, cipher_from_environment
from bot.web.metrics import Metrics
from platforms import (
    HostLimits,
    Platform,
    PlatformConnection,
    PlatformUser,
    Product,
    RetryPolicy,
    Timeouts,
    build_platform,
)
from platforms.telemetry import NO_OBSERVER

logger = logging.getLogger(__name__)

DEFAULT_MAX_CONNECTIONS = 100
DEFAULT_MAX_KEEPALIVE = 20
DEFAULT_PER_HOST = 8
#: Clients kept for reuse (the most recently used ones).
DEFAULT_MAX_CLIENTS = 1024

_Settings = TypeVar("_Settings", Timeouts, RetryPolicy)


class PlatformDirectory:
    """``platform_for(account_id, product)``: the account's platform, or ``None`` when no
    connection is configured. Reads the database, so call it off the event loop.

    ``cipher`` opens the stored credentials; without one, the directory looks it up when it
    first needs it (:func:`bot.runtime.secrets.cipher_for` the sessions' database and the
    environment's keys). ``metrics`` counts the platforms' HTTP requests, retries and
    listings. ``max_clients`` bounds the clients kept for reuse.
    """

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        limits: HostLimits | None = None,
        redactor: SecretRedactor | None = None,
        cipher: TokenCipher | None = None,
        metrics: Metrics | None = None,
        max_clients: int = DEFAULT_MAX_CLIENTS,
    ) -> None:
        self._sessions = session_factory
        self._metrics = metrics
        self._cipher = cipher
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
        self._clients: OrderedDict[tuple[int, Product], tuple[str, Platform]] = OrderedDict()
        self._max_clients = max(1, max_clients)
        self._retired: list[Platform] = []

    def platform_for(self, account_id: int, product: Product) -> Platform | None:
        """Build the platform source for ``account_id``'s ``product``.

        Raises :class:`billing.errors.ConfigurationError` when the stored connection is unusable.
        """
        found = self.platforms_for([account_id], [product])[account_id][product]
        if isinstance(found, ConfigurationError):
            raise found
        return found

    def platforms_for(
        self, account_ids: Sequence[int], products: Sequence[Product]
    ) -> dict[int, dict[Product, Platform | ConfigurationError | None]]:
        """The platform source of each of ``products`` for each of ``account_ids``, from one
        read of the database: ``None`` when no connection is configured, the
        :class:`billing.errors.ConfigurationError` (not raised) when the stored one is unusable."""
        found: dict[int, dict[Product, Platform | ConfigurationError | None]] = {
            account_id: dict.fromkeys(products) for account_id in account_ids
        }
        if not found or not products:
            return found
        with self._sessions() as session:
            read_only: dict[str, Any] = {READ_ONLY_OPTION: True}
            session.connection(execution_options=read_only)
            rows = session.scalars(
                select(PlatformConnectionRow).where(
                    PlatformConnectionRow.account_id.in_(list(found)),
                    PlatformConnectionRow.product.in_([p.value for p in products]),
                )
            )
            for row in rows:  # at most one per account and product (unique on the two)
                account_id, product = row.account_id, Product(row.product)
                try:
                    built = self._platform_from_row(session, row, account_id, product)
                    found[account_id][product] = built
                except ConfigurationError as error:
                    found[account_id][product] = error
        return found

    def _platform_from_row(
        self, session: Session, row: PlatformConnectionRow, account_id: int, product: Product
    ) -> Platform:
        fingerprint = _fingerprint(row)
        key = (account_id, product)
        with self._lock:
            cached = self._clients.get(key)
            if cached is not None and cached[0] == fingerprint:
                self._clients.move_to_end(key)
                return _Borrowed(cached[1], self._metrics)
        credentials = self._credentials(session, row, account_id, product)
        connection = connection_from_row(row, credentials)
        if self._redactor is not None:
            self._redactor.add(*credentials.values())
        platform = build_platform(
            connection,
            transport=self.transport,
            limits=self.limits,
            observer=self._metrics or NO_OBSERVER,
        )
        with self._lock:
            previous = self._clients.pop(key, None)
            self._clients[key] = (fingerprint, platform)
            if previous is not None:
                self._retired.append(previous[1])
            while len(self._clients) > self._max_clients:
                # Dropped, not closed: it borrows the shared transport and owns no connection.
                self._clients.popitem(last=False)
        return _Borrowed(platform, self._metrics)

    def _credentials(
        self, session: Session, row: PlatformConnectionRow, account_id: int, product: Product
    ) -> PlatformCredentials:
        """The row's credentials in clear; fails closed (:class:`ConfigurationError` for the
        owner, an error on the log for the operator) when they cannot be read."""
        if row.credentials_encrypted is None:
            return PlatformCredentials({})
        cipher: TokenCipher | None = None
        try:
            cipher = self._cipher_for(session)
            return unseal(cipher, row.credentials_encrypted)
        except (ConfigurationError, DecryptionError) as error:
            logger.error(
                "The %s credentials of account %s cannot be used: %s Restore the key, or "
                "store them again with `seatbot load`.",
                product.label,
                account_id,
                error.message,
            )
            if cipher is None:
                # No keys from the environment (a malformed SEATBOT_TOKEN_KEYS): the operator's
                # to fix, said in their own words; not a fault of this row.
                raise
            raise _config_error(product, "its stored credentials cannot be decrypted") from None

    def _cipher_for(self, session: Session) -> TokenCipher:
        with self._lock:
            cipher = self._cipher
        if cipher is None:
            url = session.get_bind().engine.url.render_as_string(hide_password=True)
            cipher = cipher_from_environment(url)
            with self._lock:
                self._cipher = cipher
        return cipher

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

    def __init__(self, platform: Platform, metrics: Metrics | None = None) -> None:
        self._platform = platform
        self._metrics = metrics

    @property
    def product(self) -> Product:
        return self._platform.product

    @property
    def label(self) -> str:
        return self._platform.label

    async def list_users(self) -> list[PlatformUser]:
        if self._metrics is None:
            return await self._platform.list_users()
        product = self._platform.product.value
        try:
            users = await self._platform.list_users()
        except BaseException:
            self._metrics.listing(product, "unknown")
            raise
        self._metrics.listing(product, "complete")
        return users

    async def aclose(self) -> None:
        """Nothing to do: the directory closes the client when the process stops."""


def _fingerprint(row: PlatformConnectionRow) -> str:
    """Changes whenever anything that shapes the client changes (credentials included)."""
    material = json.dumps(
        [row.kind, row.base_url, row.file_path, row.options, row.credentials_encrypted]
    )
    return hashlib.sha256(material.encode()).hexdigest()


def connection_from_row(
    row: PlatformConnectionRow, credentials: Mapping[str, str] | None = None
) -> PlatformConnection:
    """The platforms package's connection settings for one stored row and its decrypted
    ``credentials``."""
    product = Product(row.product)
    credentials = credentials or {}
    try:
        options = json.loads(row.options or "{}")
    except json.JSONDecodeError as error:
        raise _config_error(product, "its options are not valid JSON") from error
    if not isinstance(options, dict):
        raise _config_error(product, "its options are not a JSON object")
    in_clear = plaintext_credential_keys(options)
    if in_clear:
        # Written by something older than the encryption: refuse rather than use them.
        logger.error(
            "The %s connection of account %s holds credentials in clear in its options (%s); "
            "reload the accounts file with `seatbot load` to store them encrypted.",
            product.label,
            row.account_id,
            ", ".join(in_clear),
        )
        raise _config_error(product, "its credentials are not stored encrypted")
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
        api_key=credentials.get("api_key"),
        login_email=credentials.get("login_email"),
        token=credentials.get("token"),
        file_path=Path(row.file_path) if row.file_path else None,
        file_encoding=_file_encoding(options, product),
        timeouts=_dataclass_from(Timeouts, options.get("timeouts"), product),
        retry=_dataclass_from(RetryPolicy, options.get("retry"), product),
        page_size=_page_size(options, product),
    )


def _file_encoding(options: dict[str, Any], product: Product) -> str | None:
    value = options.get("encoding")
    if value is None or isinstance(value, str):
        return value
    raise _config_error(product, "'encoding' must be the name of a text encoding")


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


def _config_error(product: Product, problem: str) -> ConfigurationError:
    # Fixed text only: never echo option values, which may be credentials.
    return ConfigurationError(
        f"The {product.label} connection is misconfigured: {problem}. "
        "Ask the operator to fix it with `seatbot load`."
    )
