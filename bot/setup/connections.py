"""The ``platforms:`` key of an account in the accounts file: where its users are read.

Each names a ``product`` (at most once per account) and a ``kind``: ``api`` with a
``base_url``, or ``import_file`` with a ``file_path`` (relative to the accounts file).

A connection's ``options`` may hold credentials
(``bot.runtime.platform_credentials.CREDENTIAL_KEYS``: ``api_key``, ``login_email``, ``token``)
and settings (``SETTING_KEYS``); any other option is refused, so that no secret reaches the
database readable under a name nobody expected. Credentials are returned apart from the setup
and never quoted in a problem.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from billing.errors import InvalidInput
from billing.products import ConnectionKind, Product
from billing.setup import PlatformSetup
from bot.runtime.platform_credentials import CREDENTIAL_KEYS, SETTING_KEYS, PlatformCredentials
from bot.setup.yaml_nodes import NodeReader, is_null
from platforms.user_file_text import check_encoding


def _parse_options(
    reader: NodeReader, node: yaml.Node, path: str
) -> tuple[dict[str, Any], PlatformCredentials]:
    """A connection's ``options``, split into settings and credentials."""
    settings: dict[str, Any] = {}
    credentials: dict[str, str] = {}
    if is_null(node):
        return settings, PlatformCredentials(credentials)
    allowed = CREDENTIAL_KEYS | SETTING_KEYS
    fields = reader.mapping(node, path, required=set(), optional=set(allowed))
    for key, value in (fields or {}).items():
        if key in CREDENTIAL_KEYS:
            # Read as text whatever YAML would make of it, and never quoted back in a problem.
            secret = reader.text(value, f"{path}.{key}")
            if secret is not None:
                credentials[key] = secret
        else:
            settings[key] = reader.plain(value, f"{path}.{key}")
    return settings, PlatformCredentials(credentials)


def _check_encoding(
    reader: NodeReader, node: yaml.Node | None, options: dict[str, Any], path: str
) -> None:
    """A user file's ``encoding`` option names a text encoding (when the bytes cannot tell)."""
    if node is None or "encoding" not in options:
        return
    try:
        check_encoding(str(options["encoding"]), "encoding")
    except InvalidInput as exc:
        reader.problem(node, path, exc.message.removeprefix("encoding: "))


def parse_platforms(
    reader: NodeReader, node: yaml.Node | None, path: str, base_dir: Path
) -> list[tuple[PlatformSetup, PlatformCredentials]]:
    specs: list[tuple[PlatformSetup, PlatformCredentials]] = []
    seen: set[Product] = set()
    for index, item in enumerate(reader.sequence(node, path)):
        where = f"{path}[{index}]"
        fields = reader.mapping(
            item, where, required={"product", "kind"}, optional={"base_url", "file_path", "options"}
        )
        if fields is None:
            continue
        product = reader.choice(fields.get("product"), f"{where}.product", Product)
        kind = reader.choice(fields.get("kind"), f"{where}.kind", ConnectionKind)
        base_url = reader.text(fields.get("base_url"), f"{where}.base_url", optional=True)
        file_text = reader.text(fields.get("file_path"), f"{where}.file_path", optional=True)
        options: dict[str, Any] = {}
        credentials = PlatformCredentials({})
        if "options" in fields:
            options, credentials = _parse_options(reader, fields["options"], f"{where}.options")
        file_path: str | None = None
        if kind is ConnectionKind.API:
            if base_url is None:
                reader.problem(item, f"{where}.base_url", "is required for kind api")
            elif not re.match(r"^https?://[^/\s]+", base_url):
                reader.problem(
                    fields["base_url"], f"{where}.base_url", "must be an http:// or https:// URL"
                )
            if file_text is not None:
                reader.problem(
                    fields["file_path"], f"{where}.file_path", "only for kind import_file"
                )
        elif kind is ConnectionKind.IMPORT_FILE:
            if file_text is None:
                reader.problem(item, f"{where}.file_path", "is required for kind import_file")
            else:
                resolved = (base_dir / file_text).resolve()
                if not resolved.is_file():
                    reader.problem(
                        fields["file_path"], f"{where}.file_path", f"no such file: {resolved}"
                    )
                file_path = str(resolved)
            if base_url is not None:
                reader.problem(fields["base_url"], f"{where}.base_url", "only for kind api")
            _check_encoding(reader, fields.get("options"), options, f"{where}.options.encoding")
        if product is not None and product in seen:
            reader.problem(
                fields["product"], f"{where}.product", f"{product.value} is listed twice"
            )
            continue
        if product is None or kind is None:
            continue
        seen.add(product)
        setup = PlatformSetup(
            product=product,
            kind=kind,
            base_url=base_url if kind is ConnectionKind.API else None,
            file_path=file_path,
            options=options,
            line=item.start_mark.line + 1,
        )
        specs.append((setup, credentials))
    return specs
