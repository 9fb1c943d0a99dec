"""A user object as the platform APIs send it, read into a :class:`PlatformUser`.

Field names and codes are the documented assumption in ``platforms/README.md``. Anything that
does not fit raises :class:`platforms.http_failures.UntrustedPayload`: raw vendor JSON stops here.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar

from platforms.http_failures import UntrustedPayload
from platforms.types import Level, PlatformUser, UserStatus

_Code = TypeVar("_Code", Level, UserStatus)

_LEVELS_BY_CODE: Mapping[object, Level] = {
    "admin": Level.ADMIN,
    "manager": Level.MANAGER,
    "agent": Level.AGENT,
    # The import file's Level_ID codes, which the API may use too.
    2: Level.ADMIN,
    3: Level.MANAGER,
    4: Level.AGENT,
}
_STATUSES_BY_CODE: Mapping[object, UserStatus] = {
    "active": UserStatus.ACTIVE,
    "inactive": UserStatus.INACTIVE,
    1: UserStatus.ACTIVE,
    0: UserStatus.INACTIVE,
}


def parse_user(item: Any) -> PlatformUser:
    """One entry of a listing page as a user (times in UTC); :class:`UntrustedPayload` if any
    required field is missing or invalid."""
    if not isinstance(item, dict):
        raise UntrustedPayload("a user entry is not an object")
    raw_id = item.get("id")
    if isinstance(raw_id, bool) or not isinstance(raw_id, str | int) or raw_id == "":
        raise UntrustedPayload("a user has no id")
    email_address = item.get("email")
    if not isinstance(email_address, str) or "@" not in email_address:
        raise UntrustedPayload("a user has no valid email")
    name = item.get("name") or ""
    if not isinstance(name, str):
        raise UntrustedPayload("a user's name is not text")
    return PlatformUser(
        platform_id=str(raw_id),
        email=email_address,
        name=name,
        extension=_parse_extension(item.get("extension")),
        level=_parse_code(item.get("level"), _LEVELS_BY_CODE, "level"),
        status=_parse_code(item.get("status"), _STATUSES_BY_CODE, "status"),
        created_at=_parse_instant(item.get("createdAt"), "createdAt"),
        last_active_at=_parse_instant(item.get("lastActiveAt"), "lastActiveAt"),
    )


def _parse_extension(value: object) -> int:
    if isinstance(value, str) and value.isdigit():
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    raise UntrustedPayload("a user has no valid extension number")


def _parse_code(value: object, table: Mapping[object, _Code], field_name: str) -> _Code:
    key: object = value.strip().lower() if isinstance(value, str) else value
    if isinstance(key, bool) or key not in table:
        raise UntrustedPayload(f"a user has an unknown {field_name}")
    return table[key]


def _parse_instant(value: object, field_name: str) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise UntrustedPayload(f"a user's {field_name} is not a date")
    try:
        instant = datetime.fromisoformat(value)
    except ValueError:
        raise UntrustedPayload(f"a user's {field_name} is not an ISO 8601 date") from None
    # A naive time is taken as UTC (documented in platforms/README.md).
    return instant.replace(tzinfo=UTC) if instant.tzinfo is None else instant.astimezone(UTC)
