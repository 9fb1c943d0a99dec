"""Who exists on the sandbox platforms: accounts, their generated users, and deletions.

Users are generated deterministically from the tenant, product and seed, page by page, so ten
thousand accounts cost no memory until a user is deleted. How many users an account has is, in
order: what was configured (``--accounts``, the admin surface, :meth:`SandboxAccounts.set`);
for the accounts of ``examples/accounts.yml``, :data:`EXAMPLE_ACCOUNTS`; else a count between
``min_users`` and ``max_users`` derived from the account's name.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from types import MappingProxyType
from typing import Any

from billing.errors import InvalidInput
from platforms.types import Product

#: Extension numbers run from 100 to 9000, so an account holds at most this many users.
MAX_USERS_PER_ACCOUNT = 8901

_FIRST_NAMES = ("Ana", "Ben", "Chloé", "Dev", "Eitan", "Fatima", "Goran", "Hana", "Ines", "Jon")
_LAST_NAMES = ("Abadi", "Brandt", "Costa", "Dubois", "Eze", "Fujita", "Garcia", "Haddad", "Ivanova")
_CREATED_BASE = date(2024, 1, 1)
_LAST_ACTIVE_BASE = date(2026, 11, 27)


class SandboxRequestError(InvalidInput):
    """A request to the admin surface (or a start-up option) is not valid."""


@dataclass(frozen=True)
class AccountSettings:
    """How many users an account has and the seed their attributes derive from."""

    users: int
    seed: int


#: The seed of the example accounts: the one ``seatbot demo`` uses, so the same people appear.
EXAMPLE_SEED = 7

#: The sandbox accounts of ``examples/accounts.yml``, each with fewer users than the example's
#: seats, so that a newcomer's first ``seatbot quote`` tells a sensible story: a small decrease
#: is allowed, a large one is blocked by a few users (``seatbot quote acme contact_center 20``
#: names 3). Globex reads a CSV file, not the sandbox. Kept in step with the example file by
#: ``tests/platforms/test_platforms_sandbox.py``.
EXAMPLE_ACCOUNTS: Mapping[tuple[str, str], AccountSettings] = MappingProxyType(
    {
        ("acme", Product.CONTACT_CENTER.value): AccountSettings(users=23, seed=EXAMPLE_SEED),
        ("acme", Product.AXIOM.value): AccountSettings(users=11, seed=EXAMPLE_SEED),
        ("initech", Product.MATRIX.value): AccountSettings(users=2, seed=EXAMPLE_SEED),
    }
)


def valid_account(tenant: str, product: str) -> bool:
    """Whether ``tenant`` and ``product`` name a sandbox account."""
    # Tenant names go into generated JSON unescaped, so only a safe alphabet is accepted.
    return (
        product in Product.__members__.values()
        and 0 < len(tenant) <= 63
        and all(c.isascii() and (c.isalnum() or c in "-_") for c in tenant)
    )


def check_account(tenant: str, product: str) -> None:
    """Raise :class:`SandboxRequestError` unless ``tenant``/``product`` name an account."""
    if not valid_account(tenant, product):
        raise SandboxRequestError(
            "tenant must be letters, digits, - or _, and product one of "
            + ", ".join(p.value for p in Product)
        )


def load_accounts_file(raw: object) -> dict[tuple[str, str], AccountSettings]:
    """Parse the ``--accounts`` JSON: ``[{"tenant": "acme", "product": "axiom", "users": 40,
    "seed": 7}, ...]``."""
    if not isinstance(raw, list):
        raise SandboxRequestError("the accounts file must hold a JSON list")
    accounts: dict[tuple[str, str], AccountSettings] = {}
    for entry in raw:
        if not isinstance(entry, dict) or not isinstance(entry.get("users"), int):
            raise SandboxRequestError('each account needs "tenant", "product" and "users"')
        tenant, product = str(entry.get("tenant")), str(entry.get("product"))
        check_account(tenant, product)
        accounts[(tenant, product)] = AccountSettings(entry["users"], int(entry.get("seed", 0)))
    return accounts


class SandboxAccounts:
    """Every account's users as they are now: generated, minus the deleted ones.

    ``configured`` accounts win over :data:`EXAMPLE_ACCOUNTS`; any other account has between
    ``min_users`` and ``max_users`` users, derived from its name. User ``n`` (from 1) of an
    account has the id ``{product[:2]}-{tenant}-{n}``; user 1 is the admin.
    """

    def __init__(
        self,
        configured: Mapping[tuple[str, str], AccountSettings],
        *,
        min_users: int,
        max_users: int,
    ) -> None:
        self._configured = dict(configured)
        self._min_users = min_users
        self._max_users = max_users
        self._deleted: dict[tuple[str, str], set[int]] = {}

    def set(self, tenant: str, product: str, *, users: int, seed: int = 0) -> None:
        """Give an account exactly ``users`` users (derived from ``seed``); undo deletions."""
        check_account(tenant, product)
        if not 0 <= users <= MAX_USERS_PER_ACCOUNT:
            raise SandboxRequestError(f"users must be between 0 and {MAX_USERS_PER_ACCOUNT}")
        self._configured[(tenant, product)] = AccountSettings(users=users, seed=seed)
        self._deleted.pop((tenant, product), None)

    def settings(self, tenant: str, product: str) -> AccountSettings:
        """How many users the account was given (before deletions), and their seed."""
        settings = self._configured.get((tenant, product))
        if settings is None:
            settings = EXAMPLE_ACCOUNTS.get((tenant, product))
        if settings is None:
            digest = zlib.crc32(f"{tenant}/{product}".encode())
            span = self._max_users - self._min_users + 1
            settings = AccountSettings(users=self._min_users + digest % span, seed=digest)
        return settings

    def page(self, tenant: str, product: str, start: int, count: int) -> tuple[Iterable[int], int]:
        """The indices of up to ``count`` live users from position ``start``, and the total."""
        if self._deleted.get((tenant, product)):
            live = self.live(tenant, product)
            return live[start : start + count], len(live)
        total = self.settings(tenant, product).users
        return range(start, min(start + count, total)), total

    def live(self, tenant: str, product: str) -> list[int]:
        """The indices of the users the account has now, in order."""
        deleted = self._deleted.get((tenant, product), set())
        return [i for i in range(self.settings(tenant, product).users) if i not in deleted]

    def delete(self, tenant: str, product: str, user_id: str) -> bool:
        """Delete one user (permanently, as on the real platforms). False if there is none."""
        index = self._index_of(tenant, product, user_id)
        if index is None:
            return False
        self._deleted.setdefault((tenant, product), set()).add(index)
        return True

    def users(self, tenant: str, product: str) -> list[dict[str, Any]]:
        """Every user the account has now, as the API serves them."""
        live = self.live(tenant, product)
        return [json.loads(raw) for raw in self.user_json(tenant, product, live)]

    def user_json(self, tenant: str, product: str, indices: Iterable[int]) -> Iterable[str]:
        """The users at ``indices``, each as one JSON object in the API's shape."""
        # Built from a template rather than json.dumps: the benchmark serves tens of thousands
        # of pages. Every interpolated value is digits, a fixed name, or a checked tenant name.
        seed = self.settings(tenant, product).seed
        prefix = product[:2]
        for i in indices:
            level = "admin" if i == 0 else ("manager" if (i + seed) % 10 == 1 else "agent")
            status = "inactive" if i and (i * 31 + seed) % 7 == 3 else "active"
            created = _CREATED_BASE + timedelta(days=(i * 3 + seed % 5) % 900)
            if (i * 17 + seed) % 11 == 0:
                last_active = "null"
            else:
                last_active = (
                    f'"{_LAST_ACTIVE_BASE - timedelta(days=(i * 5 + seed) % 400)}T09:30:00Z"'
                )
            name = f"{_FIRST_NAMES[(i * 7 + seed) % 10]} {_LAST_NAMES[(i * 13 + seed) % 9]}"
            yield (
                f'{{"id":"{prefix}-{tenant}-{i + 1}","email":"user{i + 1}@{tenant}.example.com",'
                f'"name":"{name}","extension":{100 + i},"level":"{level}","status":"{status}",'
                f'"createdAt":"{created}T08:00:00Z","lastActiveAt":{last_active}}}'
            )

    def _index_of(self, tenant: str, product: str, user_id: str) -> int | None:
        prefix = f"{product[:2]}-{tenant}-"
        number = user_id.removeprefix(prefix)
        if number == user_id or not number.isdigit():
            return None
        index = int(number) - 1
        if index >= self.settings(tenant, product).users or index in self._deleted.get(
            (tenant, product), set()
        ):
            return None
        return index
