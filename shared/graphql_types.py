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
