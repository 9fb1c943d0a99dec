"""PlatformFacts lists users; several products of one account are found with one lookup."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from billing.errors import UserFacingError
from billing.seats.outcomes import UsersNeeded
from billing.users import Level, PlatformUser, UserStatus
from handlers.facts import Found, PlatformFacts, PlatformsFor
from platforms.types import Platform, Product

USER = PlatformUser(
    platform_id="1", email="a@example.com", name="A", extension=100,
    level=Level.AGENT, status=UserStatus.ACTIVE, created_at=None, last_active_at=None,
)  # fmt: skip


class FakePlatform:
    def __init__(self, product: Product, users: list[PlatformUser]) -> None:
        self.product = product
        self.label = product.label
        self.users = users
        self.closed = False

    async def list_users(self) -> list[PlatformUser]:
        return self.users

    async def aclose(self) -> None:
        self.closed = True


class Directory:
    """Records every lookup; Matrix is misconfigured, Contact Center not connected."""

    def __init__(self) -> None:
        self.one_lookups: list[tuple[int, Product]] = []
        self.many_lookups: list[tuple[list[int], list[Product]]] = []
        self.axiom = FakePlatform(Product.AXIOM, [USER])

    def platform_for(self, account_id: int, product: Product) -> Platform | None:
        self.one_lookups.append((account_id, product))
        found = self.platforms_for([account_id], [product])[account_id][product]
        if isinstance(found, UserFacingError):
            raise found
        return found

    def platforms_for(
        self, account_ids: Sequence[int], products: Sequence[Product]
    ) -> Mapping[int, Found]:
        self.many_lookups.append((list(account_ids), list(products)))
        table: dict[Product, Platform | UserFacingError | None] = {
            Product.AXIOM: self.axiom,
            Product.MATRIX: UserFacingError("The Matrix connection is misconfigured."),
            Product.CONTACT_CENTER: None,
        }
        return {account: {p: table[p] for p in products} for account in account_ids}


PRODUCTS = [Product.MATRIX, Product.AXIOM, Product.CONTACT_CENTER]


def facts_over(directory: Directory, platforms_for: PlatformsFor | None = None) -> PlatformFacts:
    """The facts over ``directory``'s single lookups, finding several at once with
    ``platforms_for`` when given."""
    return PlatformFacts(
        directory.platform_for, deadline_s=5, recent_ttl_s=0, platforms_for=platforms_for
    )


async def test_one_lookup_finds_every_product_of_the_account_in_the_order_asked() -> None:
    directory = Directory()
    facts = facts_over(directory, directory.platforms_for)
    matrix, axiom, contact_center = await facts.listings([UsersNeeded(7, p) for p in PRODUCTS])
    assert directory.many_lookups == [([7], PRODUCTS)]
    assert directory.one_lookups == []
    assert axiom.users == (USER,)
    assert directory.axiom.closed  # handed back once listed
    assert matrix.users is None
    assert matrix.problem == "The Matrix connection is misconfigured."
    assert contact_center.users is None
    assert contact_center.problem is not None
    assert contact_center.problem.startswith("No Contact Center connection")


async def test_without_platforms_for_each_product_is_looked_up_alone_with_the_same_facts() -> None:
    directory = Directory()
    facts = facts_over(directory)
    listings = await facts.listings([UsersNeeded(7, p) for p in PRODUCTS])
    assert sorted(directory.one_lookups) == sorted((7, p) for p in PRODUCTS)
    batched = facts_over(directory, directory.platforms_for)
    assert listings == await batched.listings([UsersNeeded(7, p) for p in PRODUCTS])


async def test_a_lookup_that_fails_for_the_owner_makes_every_product_unknown() -> None:
    def refuse(account_ids: Sequence[int], products: Sequence[Product]) -> Mapping[int, Found]:
        raise UserFacingError("The connections cannot be read.")

    directory = Directory()
    facts = facts_over(directory, refuse)
    listings = await facts.listings([UsersNeeded(7, p) for p in PRODUCTS])
    assert [listing.problem for listing in listings] == ["The connections cannot be read."] * 3


async def test_the_platforms_of_several_accounts_are_found_in_one_read_and_listed_from_it() -> None:
    directory = Directory()
    facts = facts_over(directory, directory.platforms_for)
    found = await facts.platforms([7, 8], PRODUCTS)
    assert directory.many_lookups == [([7, 8], PRODUCTS)]
    listings = await facts.listings([UsersNeeded(8, p) for p in PRODUCTS], found[8])
    assert directory.many_lookups == [([7, 8], PRODUCTS)]  # no other read
    assert directory.one_lookups == []
    alone = await facts.listings([UsersNeeded(8, p) for p in PRODUCTS])
    assert listings == alone


async def test_a_read_of_several_accounts_that_fails_leaves_each_account_to_its_own() -> None:
    def broken(account_ids: Sequence[int], products: Sequence[Product]) -> Mapping[int, Found]:
        if len(account_ids) > 1:
            raise RuntimeError("the database went away")
        return directory.platforms_for(account_ids, products)

    directory = Directory()
    facts = facts_over(directory, broken)
    assert await facts.platforms([7, 8], PRODUCTS) == {}
    [_, axiom, _] = await facts.listings([UsersNeeded(8, p) for p in PRODUCTS], None)
    assert axiom.users == (USER,)
    assert await facts_over(directory).platforms([7], PRODUCTS) == {}
