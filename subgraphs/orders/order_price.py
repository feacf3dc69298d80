"""An order's price as frozen: its columns from pricing.py's Breakdown (placeOrder, checkout), and the
breakdown keys its events carry (OrderPlaced, OrderConfirmed, OrderCancelled)."""

from __future__ import annotations

import uuid
from typing import Any

from subgraphs.orders import pricing
from subgraphs.orders.models import Order, OrderItem
from subgraphs.orders.peers import CatalogProduct


def variant_label(selected_options: list[dict[str, str]] | None) -> str | None:
    """A line's option values as a label (`M / Red`); None for a product sold as one thing (and on lines
    older than variants)."""
    return " / ".join(option["value"] for option in selected_options or []) or None


def frozen_price(breakdown: pricing.Breakdown) -> dict[str, Any]:
    """An order's price columns from `breakdown` (the saga charges `total_amount`)."""
    return {
        "total_amount": breakdown.total,
        "prices_include_tax": breakdown.prices_include_tax,
        "subtotal_amount": breakdown.subtotal,
        "discount_amount": breakdown.discount_total,
        "shipping_amount": breakdown.shipping,
        "shipping_net_amount": breakdown.shipping_net,
        "tax_amount": breakdown.tax_total,
        "items_net_amount": sum(line.net for line in breakdown.lines),
        "discounts": [
            {
                "promotionId": d.promotion_id,
                "code": d.code,
                "name": d.name,
                "kind": d.kind.value,
                "amount": d.amount,
            }
            for d in breakdown.discounts
        ],
        "tax_lines": [
            {"taxClass": t.tax_class, "rateBp": t.rate_bp, "name": t.name, "net": t.net, "amount": t.tax}
            for t in breakdown.tax_lines
        ],
    }


def frozen_line(line: pricing.LineBreakdown) -> dict[str, Any]:
    """An order line's price columns from its breakdown."""
    return {
        "discount_amount": line.discount,
        "tax_amount": line.tax,
        "total_amount": line.total,
        "tax_class": line.tax_class,
        "tax_rate_bp": line.tax_rate_bp,
    }


def variant_columns(variant: CatalogProduct) -> dict[str, Any]:
    """An order line's product, variant, SKU and option values as frozen from the catalog's variant."""
    return {
        "product_id": uuid.UUID(variant.product_id or variant.id),
        "variant_id": uuid.UUID(variant.id),
        "sku": variant.sku,
        "selected_options": [{"name": name, "value": value} for name, value in variant.option_values],
    }


def order_summary(order: Order, items: list[OrderItem]) -> dict[str, Any]:
    """OrderPlaced's, OrderConfirmed's and OrderCancelled's common keys: the total charged, the lines and the
    frozen breakdown (minor units; a placeOrder order has zeros and empty lists, never missing keys)."""
    return {
        "total": order.total_amount,
        "currency": order.currency,
        "items": [item_summary(item) for item in items],
        "subtotal": order.subtotal_amount or 0,
        "discountTotal": order.discount_amount or 0,
        "shipping": order.shipping_amount or 0,
        "taxTotal": order.tax_amount or 0,
        "itemsNet": order.items_net_amount or 0,
        "shippingNet": order.shipping_net_amount or 0,
        "pricesIncludeTax": bool(order.prices_include_tax),
        "discounts": [
            {
                "promotionId": d["promotionId"],
                "code": d.get("code"),
                "name": d["name"],
                "amount": d["amount"],
            }
            for d in order.discounts or []
        ],
        "taxLines": [
            {"taxClass": t["taxClass"], "rateBp": t["rateBp"], "amount": t["amount"]}
            for t in order.tax_lines or []
        ],
        "shippingMethod": (
            {"id": order.shipping_method["id"], "name": order.shipping_method["name"]}
            if order.shipping_method
            else None
        ),
        "cartId": order.cart_id,
    }


def item_summary(item: OrderItem) -> dict[str, Any]:
    """One line of an order event: `productId` is the product, `variantId` the variant sold (the same id for
    a product sold as one thing); `sku`, `optionValues` {name: value} and `variantLabel` ("M / Red", null for
    a product without options) are as frozen (null on lines older than variants)."""
    line_subtotal = item.unit_price_amount * item.quantity
    options = item.selected_options
    return {
        "productId": item.product_id,
        "variantId": item.variant_id,
        "sku": item.sku,
        "optionValues": {o["name"]: o["value"] for o in options} if options is not None else None,
        "variantLabel": variant_label(options),
        "quantity": item.quantity,
        "unitPrice": item.unit_price_amount,
        "discount": item.discount_amount or 0,
        "tax": item.tax_amount or 0,
        "total": item.total_amount if item.total_amount is not None else line_subtotal,
    }
