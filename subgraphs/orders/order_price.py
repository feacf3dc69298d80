"""An order's price as frozen: its columns from pricing.py's Breakdown (placeOrder, checkout), and the
breakdown keys its events carry (OrderPlaced, OrderConfirmed, OrderCancelled)."""

from __future__ import annotations

from typing import Any

from subgraphs.orders import pricing
from subgraphs.orders.models import Order, OrderItem


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
    line_subtotal = item.unit_price_amount * item.quantity
    return {
        "productId": item.product_id,
        "quantity": item.quantity,
        "unitPrice": item.unit_price_amount,
        "discount": item.discount_amount or 0,
        "tax": item.tax_amount or 0,
        "total": item.total_amount if item.total_amount is not None else line_subtotal,
    }
