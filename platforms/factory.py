"""Build a :class:`platforms.types.Platform` from a :class:`PlatformConnection`."""

from __future__ import annotations

from typing import Unpack

from billing.errors import ConfigurationError
from billing.products import ConnectionKind
from platforms.connection import PlatformConnection
from platforms.http import (
    AxiomPlatform,
    ClientOptions,
    ContactCenterPlatform,
    HttpPlatform,
    MatrixPlatform,
)
from platforms.types import Platform, Product

_HTTP_CLIENTS: dict[Product, type[HttpPlatform]] = {
    Product.CONTACT_CENTER: ContactCenterPlatform,
    Product.AXIOM: AxiomPlatform,
    Product.MATRIX: MatrixPlatform,
}


def build_platform(connection: PlatformConnection, **options: Unpack[ClientOptions]) -> Platform:
    """The platform source a connection describes; ``options`` go to an HTTP client.

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
    return _HTTP_CLIENTS[connection.product](connection, **options)
