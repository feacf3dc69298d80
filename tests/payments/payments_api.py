"""GraphQL documents and a small client of the payments tests (imported by this folder's test modules)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.app import create_subgraph_app
from shared.auth import TokenIssuer
from shared.testing import ServerThread
from subgraphs.payments.app import definition
from subgraphs.payments.settings import PaymentsSettings

PAYMENT_FIELDS = "id order { id } amount { amount currency } status method failureReason createdAt refundedAt"
# What the saga selects: a bare VOIDED tombstone has no order, amount or method to show.
OUTCOME_FIELDS = "id status failureReason createdAt refundedAt"

CHARGE = f"""
mutation Charge($input: ChargePaymentInput!) {{ chargePayment(input: $input) {{ {PAYMENT_FIELDS} }} }}
"""
REFUND = f"""
mutation Refund($key: String!, $reason: String!) {{
  refundPayment(key: $key, reason: $reason) {{ {OUTCOME_FIELDS} }}
}}
"""
REFUND_PARTIALLY = """
mutation Partial($input: RefundPaymentPartiallyInput!) {
  refundPaymentPartially(input: $input) { id amount { amount currency } reason createdAt }
}
"""
PAYMENT_REFUNDS = """
query One($id: ID!) {
  payment(id: $id) {
    status refundedAmount { amount currency } refundedAt refunds { id amount { amount } reason }
  }
}
"""
PAYMENT = f"query One($id: ID!) {{ payment(id: $id) {{ {PAYMENT_FIELDS} }} }}"
ORDER_PAYMENTS = """
query Orders($representations: [_Any!]!) {
  _entities(representations: $representations) { ... on Order { id payment { id status amount { amount } } } }
}
"""
PAYMENT_ENTITIES = """
query Payments($representations: [_Any!]!) {
  _entities(representations: $representations) { ... on Payment { id status order { id } } }
}
"""


# How long `tok_timeout` hangs on the tests' own payments servers (the stack's hangs the default 30 s).
HANG_SECONDS = 1.5


def start_payments(**overrides: Any) -> ServerThread:
    """A payments server of the test's own on the run's payments database; it verifies with the run's keys."""
    settings = PaymentsSettings(jwks_url="", **overrides)
    return ServerThread(create_subgraph_app(definition, settings)).start()


@dataclass(frozen=True)
class Customer:
    id: str
    token: str


def charge_input(**overrides: Any) -> dict[str, Any]:
    """A valid chargePayment input with a fresh key and order; `overrides` replace fields."""
    values: dict[str, Any] = {
        "key": f"order:{uuid.uuid4()}:charge",
        "orderId": str(uuid.uuid4()),
        "userId": str(uuid.uuid4()),
        "amount": {"amount": 4599, "currency": "USD"},
        "method": "tok_approve",
    }
    values.update(overrides)
    return values


class PaymentsApi:
    """One payments server, called as the order saga calls it (SERVICE token) unless told otherwise."""

    def __init__(self, gql: Any, http: httpx.AsyncClient, url: str, issuer: TokenIssuer) -> None:
        self.gql = gql
        self.http = http
        self.url = url
        self.service_token = issuer.issue_service_token("orders").token

    async def charge(self, input: dict[str, Any], *, token: str | None = "service") -> Any:
        return await self.gql("payments", CHARGE, {"input": input}, token=self._token(token))

    async def refund(
        self, key: str, reason: str = "order cancelled", *, token: str | None = "service"
    ) -> Any:
        return await self.gql("payments", REFUND, {"key": key, "reason": reason}, token=self._token(token))

    async def refund_partially(
        self,
        order_id: str,
        amount: int,
        *,
        key: str | None = None,
        currency: str = "USD",
        reason: str = "return",
        token: str | None = "service",
    ) -> Any:
        input = {
            "key": key or f"return:{uuid.uuid4()}:refund",
            "orderId": order_id,
            "amount": amount,
            "currency": currency,
            "reason": reason,
        }
        return await self.gql("payments", REFUND_PARTIALLY, {"input": input}, token=self._token(token))

    async def refunds(self, payment_id: str, *, token: str | None) -> Any:
        return await self.gql("payments", PAYMENT_REFUNDS, {"id": payment_id}, token=token)

    async def payment(self, payment_id: str, *, token: str | None) -> Any:
        return await self.gql("payments", PAYMENT, {"id": payment_id}, token=token)

    async def order_payments(self, order_ids: list[str], *, token: str | None) -> Any:
        representations = [{"__typename": "Order", "id": order_id} for order_id in order_ids]
        return await self.gql("payments", ORDER_PAYMENTS, {"representations": representations}, token=token)

    async def payment_entities(self, payment_ids: list[str], *, token: str | None) -> Any:
        representations = [{"__typename": "Payment", "id": payment_id} for payment_id in payment_ids]
        return await self.gql("payments", PAYMENT_ENTITIES, {"representations": representations}, token=token)

    async def provider_calls(self, operation: str) -> int:
        """How many calls of `operation` (charge, refund) this server made to its provider so far."""
        return int(await self._metric("myshop_payment_provider_seconds_count", operation=operation))

    async def _metric(self, name: str, **labels: str) -> float:
        body = (await self.http.get(f"{self.url}/metrics")).text
        return sum(
            sample.value
            for family in text_string_to_metric_families(body)
            for sample in family.samples
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items())
        )

    def _token(self, token: str | None) -> str | None:
        return self.service_token if token == "service" else token


async def payment_rows(db: async_sessionmaker[AsyncSession]) -> list[dict[str, Any]]:
    """Every row of the payments table, oldest first."""
    async with db() as session:
        result = await session.execute(text("SELECT * FROM payments ORDER BY created_at, id"))
        return [dict(row) for row in result.mappings()]


async def outbox_events(db: async_sessionmaker[AsyncSession]) -> list[dict[str, Any]]:
    """Every outbox row (the events written), in write order: (event_type, payload, aggregate_id)."""
    async with db() as session:
        result = await session.execute(
            text("SELECT event_type, payload, aggregate_id FROM outbox ORDER BY id")
        )
        return [dict(row) for row in result.mappings()]
