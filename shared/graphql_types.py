"""GraphQL types several subgraphs declare alike (value types are `@shareable` so they compose)."""

from __future__ import annotations

import strawberry


@strawberry.federation.type(
    shareable=True, description="An amount of money: integer minor units (cents) of an ISO 4217 currency."
)
class Money:
    amount: int = strawberry.field(description="Minor units of `currency` (cents for USD, yen for JPY).")
    currency: str = strawberry.field(description="ISO 4217 code, upper case.")


@strawberry.input(description="An amount: integer minor units (cents) and an ISO 4217 currency code.")
class MoneyInput:
    amount: int
    currency: str


@strawberry.input(
    description="A postal address. Strings are trimmed; required fields and postal codes follow the country."
)
class AddressInput:
    name: str
    line1: str
    country: str = strawberry.field(description="ISO 3166-1 alpha-2 code.")
    company: str | None = None
    line2: str | None = None
    city: str | None = None
    postal_code: str | None = None
    region: str | None = None
    phone: str | None = strawberry.field(
        default=None, description="International (`+44 20 7946 0958`) or national in the address's country."
    )

    def as_raw(self) -> dict[str, str | None]:
        """The camelCase keys of shared.addresses.validate_address (the names errors give as `field`)."""
        return {
            "name": self.name,
            "company": self.company,
            "line1": self.line1,
            "line2": self.line2,
            "city": self.city,
            "postalCode": self.postal_code,
            "region": self.region,
            "country": self.country,
            "phone": self.phone,
        }
