"""Following a page-numbered user listing to the end, and refusing one that cannot be trusted.

Pages are requested 1, 2, 3… until the first page with fewer users than the page size. The
checks (echoed page number, one total on every page, no user twice, as many users as the total)
are what make a broken listing a :class:`platforms.http_failures.UntrustedPayload` instead of a
shorter list: the decrease rule must never see fewer users than exist.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from platforms.http_failures import UntrustedPayload
from platforms.types import PlatformUser
from platforms.user_json import parse_user

#: A server that keeps returning full pages is not trusted past this many pages.
MAX_PAGES = 10_000

#: ``fetch_page(page_number)`` → the decoded JSON body of that page (numbered from 1).
FetchPage = Callable[[int], Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class _Page:
    items: list[Any]
    per_page: int
    total: int | None


async def read_user_pages(fetch_page: FetchPage, page_size: int) -> list[PlatformUser]:
    """Every user of the listing, all pages, in the platform's order.

    ``page_size`` is the size requested of the server; a server may cap it, and the size it
    echoes then decides what a short (last) page is.
    """
    users: list[PlatformUser] = []
    seen_ids: set[str] = set()
    first_total: int | None = None
    for page_number in range(1, MAX_PAGES + 1):
        page = _parse_page(await fetch_page(page_number), page_number, page_size)
        if page_number == 1:
            first_total = page.total
        elif page.total != first_total:
            raise UntrustedPayload("the user count changed while it was being read")
        for item in page.items:
            user = parse_user(item)
            if user.platform_id in seen_ids:
                raise UntrustedPayload("the same user appeared twice across pages")
            seen_ids.add(user.platform_id)
            users.append(user)
        if len(page.items) < page.per_page:
            break
    else:
        raise UntrustedPayload(f"the listing did not end after {MAX_PAGES} pages")
    if first_total is not None and len(users) != first_total:
        # A short page before the end looks like the last page; the total gives it away.
        raise UntrustedPayload(f"the listing stopped after {len(users)} of {first_total} users")
    return users


def _parse_page(body: Any, requested_page: int, requested_size: int) -> _Page:
    if not isinstance(body, dict):
        raise UntrustedPayload(f"page {requested_page} is not an object")
    items = body.get("data")
    if not isinstance(items, list):
        raise UntrustedPayload(f"page {requested_page} has no user list")
    echoed_page = body.get("page", requested_page)
    if echoed_page != requested_page:
        raise UntrustedPayload(f"asked for page {requested_page}, got page {echoed_page}")
    # A server may cap the page size; the echoed size, when present, is what "short" means.
    per_page = body.get("perPage", requested_size)
    total = body.get("total")
    if not isinstance(per_page, int) or not _is_count(per_page) or per_page < 1:
        raise UntrustedPayload(f"page {requested_page} has no valid page size")
    if total is not None and not _is_count(total):
        raise UntrustedPayload(f"page {requested_page} has an invalid total")
    return _Page(items=items, per_page=per_page, total=total)


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0
