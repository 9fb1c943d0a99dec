"""Build a :class:`platforms.types.Platform` from a :class:`PlatformConnection`."""

from __future__ import annotations

import asyncio
import time

import httpx

from billing.errors import ConfigurationError
from billing.products import ConnectionKind
from platforms.connection import HostLimits, PlatformConnection
from platforms.http import AxiomPlatform, ContactCenterPlatform, HttpPlatform, MatrixPlatform
from platforms.http_requests import Clock, Sleep
from platforms.telemetry import NO_OBSERVER, RequestObserver
from platforms.types import Platform, Product

_HTTP_CLIENTS: dict[Product, type[HttpPlatform]] = {
    Product.CONTACT_CENTER: ContactCenterPlatform,
    Product.AXIOM: AxiomPlatform,
    Product.MATRIX: MatrixPlatform,
}


def build_platform(
    connection: PlatformConnection,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    limits: HostLimits | None = None,
    sleep: Sleep = asyncio.sleep,
    clock: Clock = time.monotonic,
    observer: RequestObserver = NO_OBSERVER,
) -> Platform:
    """The platform source a connection describes.

    ``transport`` is borrowed (shared across platforms and closed by the caller); without it,
    the client opens its own. Pass the process's one :class:`HostLimits` as ``limits`` so every
    client shares the per-host bound. ``observer`` is told about every HTTP request
    (:mod:`platforms.telemetry`). ``sleep`` and ``clock`` are for tests. Raises
    :class:`billing.errors.ConfigurationError` when the connection lacks what its kind needs.
    """
    if connection.kind == ConnectionKind.IMPORT_FILE:
        if connection.file_path is None:
            raise ConfigurationError(
                f"The {connection.product.label} connection reads a user file but names none; "
                "ask the operator to set its path.",
            )
        # Imported here: it loads openpyxl (and numpy), a third of a second an HTTP-only
        # `seatbot reconcile` would pay at start-up.
        from platforms.importfile import ImportFilePlatform

        return ImportFilePlatform(
            connection.product, connection.file_path, connection.file_encoding
        )
    client_class = _HTTP_CLIENTS[connection.product]
    return client_class(
        connection, transport=transport, limits=limits, sleep=sleep, clock=clock, observer=observer
    )
