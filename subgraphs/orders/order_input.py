"""What a client asks an order (or a cart) for, cleaned: its lines, each a variant and/or a product and a
quantity, the payment method, and the request's fingerprint (an idempotency key sent again must ask for the
same thing)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import orjson

from shared.errors import BadUserInput, MyShopError, NotFound
from shared.ids import parse_uuid
from subgraphs.orders.peers import (
    NOT_SOLD,
    VARIANT_MISMATCH,
    VARIANT_REQUIRED,
    CatalogProduct,
    ItemRef,
    Resolved,
)

MAX_LINES = 100
MAX_QUANTITY = 1000
MAX_PAYMENT_METHOD_LENGTH = 100


class VariantRequired(MyShopError):
    """A line names a product sold in several variants without saying which (`variantId`)."""

    code = "VARIANT_REQUIRED"


@dataclass(frozen=True, slots=True)
class OrderLine:
    """A line as the client asked for it: a variant and/or a product (peers.ItemRef), a quantity."""

    ref: ItemRef
    quantity: int
    field: str  # the input field naming it (`items.0.variantId`), for errors

    @property
    def key(self) -> str:
        """What the request's fingerprint knows the line by: a product id alone as before variants."""
        if self.ref.variant_id is None:
            return str(self.ref.product_id)
        return f"variant:{self.ref.variant_id}:{self.ref.product_id or ''}"


def clean_ref(raw_product_id: object, raw_variant_id: object, prefix: str = "") -> tuple[ItemRef, str]:
    """The reference of a line (`productId` and/or `variantId`, at least one) and the field naming it."""
    if raw_product_id is None and raw_variant_id is None:
        raise BadUserInput(
            "Give `variantId` (or `productId` for a product sold as one thing).", field=f"{prefix}variantId"
        )
    product_id = (
        parse_uuid(raw_product_id, f"{prefix}productId", "a product id")
        if raw_product_id is not None
        else None
    )
    variant_id = (
        parse_uuid(raw_variant_id, f"{prefix}variantId", "a variant id")
        if raw_variant_id is not None
        else None
    )
    ref = ItemRef(
        variant_id=str(variant_id) if variant_id is not None else None,
        product_id=str(product_id) if product_id is not None else None,
    )
    return ref, f"{prefix}variantId" if variant_id is not None else f"{prefix}productId"


def sold_item(resolved: Resolved, field: str) -> CatalogProduct:
    """The variant a line buys, or the coded error saying why it cannot be bought."""
    if resolved.problem == VARIANT_REQUIRED:
        raise VariantRequired(
            "This product comes in several variants: say which one with `variantId`.", field=field
        )
    if resolved.problem == VARIANT_MISMATCH:
        raise BadUserInput("This variant is not one of this product's.", field=field, reason=VARIANT_MISMATCH)
    if resolved.problem == NOT_SOLD or (resolved.item is not None and not resolved.item.active):
        raise BadUserInput("This product is no longer sold.", field=field)
    if resolved.item is None:
        raise NotFound("No such product.", field=field)
    return resolved.item


def clean_lines(items: list[tuple[object, object, object]]) -> list[OrderLine]:
    """Validated lines, one per (product, variant) reference (repeated ones are added up), in the client's
    order; each item is (productId, variantId, quantity)."""
    if not items:
        raise BadUserInput("An order needs at least one item.", field="items")
    if len(items) > MAX_LINES:
        raise BadUserInput(f"An order has at most {MAX_LINES} items.", field="items")
    lines: dict[ItemRef, OrderLine] = {}
    for index, (raw_product_id, raw_variant_id, quantity) in enumerate(items):
        ref, field = clean_ref(raw_product_id, raw_variant_id, f"items.{index}.")
        if type(quantity) is not int or quantity < 1 or quantity > MAX_QUANTITY:
            raise BadUserInput(f"A quantity is 1 to {MAX_QUANTITY}.", field=f"items.{index}.quantity")
        known = lines.get(ref)
        total = quantity + (known.quantity if known is not None else 0)
        if total > MAX_QUANTITY:
            raise BadUserInput(f"A quantity is 1 to {MAX_QUANTITY}.", field=f"items.{index}.quantity")
        lines[ref] = OrderLine(ref, total, known.field if known is not None else field)
    return list(lines.values())


def clean_payment_method(value: object) -> str:
    method = value.strip() if isinstance(value, str) else ""
    if not method or len(method) > MAX_PAYMENT_METHOD_LENGTH:
        raise BadUserInput(
            f"A payment method is 1 to {MAX_PAYMENT_METHOD_LENGTH} characters.", field="paymentMethod"
        )
    return method


def request_hash(lines: list[OrderLine], payment_method: str) -> str:
    canonical = sorted((line.key, line.quantity) for line in lines)
    return hashlib.sha256(orjson.dumps([canonical, payment_method])).hexdigest()
