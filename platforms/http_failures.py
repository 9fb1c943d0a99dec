"""What can go wrong between Seatbot and a platform's HTTP API, and the one place where it
becomes a :class:`platforms.errors.PlatformError`.

The HTTP clients raise the small signals below (or let httpx's own exceptions through);
:func:`translate_errors` turns each into an owner-facing error built from a fixed template, never
from the response, the request or the exception text, so no credential can reach a message.
The signals never leave ``platforms``.
"""

from __future__ import annotations

import contextlib
import email.utils
import math
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx

from billing.errors import SeatbotError
from platforms.errors import (
    PlatformAuthError,
    PlatformDataError,
    PlatformError,
    PlatformRateLimited,
    PlatformUnavailable,
)


class HttpFailure(SeatbotError):
    """A platform answered in a way that ends this request (internal signal)."""


class RetryableStatus(HttpFailure):
    """429 or 5xx: the request may succeed if it is sent again (after ``retry_after_s``)."""

    def __init__(self, status: int, retry_after_s: float | None) -> None:
        super().__init__(status)
        self.status = status
        self.retry_after_s = retry_after_s


class Unauthorized(HttpFailure):
    """401 or 403: the token is missing, wrong or expired (or the token exchange was refused),
    or the credentials may not list users."""


class UnexpectedStatus(HttpFailure):
    """Any other status that is not a success."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


class UntrustedPayload(HttpFailure):
    """The answer cannot be trusted; the message names the problem, never the data."""


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait according to a ``Retry-After`` header (delta-seconds or an HTTP date).

    Returns ``None`` when the header is absent or unreadable, and never a negative number.
    ``now`` (UTC) is only used for the HTTP-date form.
    """
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


def raise_for_status(response: httpx.Response) -> None:
    """Raise the signal for a response that is not a success (status 300 and up)."""
    status = response.status_code
    if status < 300:
        return
    if status in (401, 403):
        raise Unauthorized
    if status == 429 or status >= 500:
        raise RetryableStatus(status, parse_retry_after(response.headers.get("Retry-After")))
    raise UnexpectedStatus(status)


def decode_json(response: httpx.Response) -> Any:
    """The response body as JSON; :class:`UntrustedPayload` when it is not valid JSON."""
    try:
        return response.json()
    except ValueError:  # json.JSONDecodeError and UnicodeDecodeError are both ValueErrors
        raise UntrustedPayload("an answer was not valid JSON") from None


@contextlib.contextmanager
def translate_errors(label: str, *, attempts: int, deadline_s: float) -> Iterator[None]:
    """Turn every failure inside the block into the matching :class:`PlatformError`.

    ``label`` is the product's owner-facing name; ``attempts`` and ``deadline_s`` (seconds) are
    what the messages say was tried. A :class:`PlatformError` passes through unchanged.
    """
    try:
        yield
    except PlatformError:
        raise
    except TimeoutError:
        raise PlatformUnavailable(
            f"{label} did not answer in {deadline_s:g} s; nothing was changed; try again.",
            product_label=label,
        ) from None
    except httpx.TimeoutException:
        raise PlatformUnavailable(
            f"{label} did not answer in time ({attempts} tries); nothing was changed; try again.",
            product_label=label,
        ) from None
    except httpx.TransportError:
        raise PlatformUnavailable(
            f"Seatbot could not reach {label} ({attempts} tries); nothing was changed; "
            "try again in a few minutes.",
            product_label=label,
        ) from None
    except RetryableStatus as exc:
        if exc.status == 429:
            wait = exc.retry_after_s
            when = f"in {math.ceil(wait)} s" if wait is not None else "in a minute"
            raise PlatformRateLimited(
                f"{label} is limiting Seatbot's requests; nothing was changed; try again {when}.",
                product_label=label,
                retry_after_s=wait,
            ) from None
        raise PlatformUnavailable(
            f"{label} had a server error ({exc.status}, {attempts} tries); nothing was "
            "changed; try again later.",
            product_label=label,
        ) from None
    except Unauthorized:
        raise PlatformAuthError(
            f"{label} refused Seatbot's credentials; nothing was changed; ask the operator "
            f"to check the {label} connection.",
            product_label=label,
        ) from None
    except UnexpectedStatus as exc:
        raise PlatformDataError(
            f"{label} answered with an unexpected status ({exc.status}); nothing was "
            f"changed; ask the operator to check the {label} connection's URL.",
            product_label=label,
        ) from None
    except UntrustedPayload as exc:
        raise PlatformDataError(
            f"{label} sent a user list Seatbot cannot trust ({exc}); nothing was changed; "
            "try again.",
            product_label=label,
        ) from None
