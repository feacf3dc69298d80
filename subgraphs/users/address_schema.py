"""The address book's GraphQL types and mutations (merged into the users schema by schema.py)."""

from __future__ import annotations

import uuid

import strawberry
from strawberry.types import Info

from shared.auth.permissions import IsAuthenticated, guarded
from shared.graphql_types import AddressInput
from subgraphs.users import models
from subgraphs.users.addresses import AddressBook


@strawberry.type(
    description="A postal address of a user's address book. Its fields other than `id` and the default flags "
    "are the address itself, validated for its country: a checkout copies them onto an order."
)
class Address:
    id: strawberry.ID
    name: str = strawberry.field(description="The recipient.")
    company: str = strawberry.field(description="Empty when none.")
    line1: str = strawberry.field(description="Street and number (or PO box).")
    line2: str = strawberry.field(description="Flat, floor, building; empty when none.")
    city: str
    postal_code: str = strawberry.field(description="In the country's normal form; empty where none is used.")
    region: str = strawberry.field(
        description="State, province or county as the country's post writes it (`CA`); empty when unused."
    )
    country: str = strawberry.field(description="ISO 3166-1 alpha-2 code (`US`, `GB`).")
    phone: str = strawberry.field(description="E.164 (`+14155550100`); empty when none.")
    is_default_shipping: bool
    is_default_billing: bool

    @classmethod
    def from_model(cls, address: models.Address) -> Address:
        return cls(
            id=strawberry.ID(str(address.id)),
            name=address.name,
            company=address.company,
            line1=address.line1,
            line2=address.line2,
            city=address.city,
            postal_code=address.postal_code,
            region=address.region,
            country=address.country,
            phone=address.phone,
            is_default_shipping=address.is_default_shipping,
            is_default_billing=address.is_default_billing,
        )


async def addresses_of(info: Info, user_id: str) -> list[Address]:
    loaded = await info.context.loaders.addresses_by_user.load(uuid.UUID(user_id))
    return [Address.from_model(address) for address in loaded]


@strawberry.type
class AddressMutation:
    @strawberry.mutation(
        **guarded(IsAuthenticated),
        description="Add an address to your address book (at most 50); a default flag moves it from another.",
    )
    async def add_address(
        self,
        info: Info,
        input: AddressInput,
        is_default_shipping: bool = False,
        is_default_billing: bool = False,
    ) -> Address:
        principal = await info.context.require_principal()
        address = await AddressBook(info.context).add(
            principal,
            input.as_raw(),
            default_shipping=is_default_shipping,
            default_billing=is_default_billing,
        )
        return Address.from_model(address)

    @strawberry.mutation(
        **guarded(IsAuthenticated),
        description="Replace one of your addresses with `input` and/or change its default flags "
        "(true takes the default from another address; false leaves the user without that default).",
    )
    async def update_address(
        self,
        info: Info,
        id: strawberry.ID,
        input: AddressInput | None = None,
        is_default_shipping: bool | None = None,
        is_default_billing: bool | None = None,
    ) -> Address:
        principal = await info.context.require_principal()
        address = await AddressBook(info.context).update(
            principal,
            id,
            input.as_raw() if input is not None else None,
            default_shipping=is_default_shipping,
            default_billing=is_default_billing,
        )
        return Address.from_model(address)

    @strawberry.mutation(
        **guarded(IsAuthenticated),
        description="Remove one of your addresses; answers its id. A removed default leaves no default.",
    )
    async def remove_address(self, info: Info, id: strawberry.ID) -> strawberry.ID:
        principal = await info.context.require_principal()
        return strawberry.ID(str(await AddressBook(info.context).remove(principal, id)))
