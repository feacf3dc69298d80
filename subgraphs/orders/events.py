"""The events orders emits, written to its outbox in the transaction of the change they describe."""

from __future__ import annotations

import enum


class OrderEvent(enum.StrEnum):
    # An order was created (PENDING): {orderId, userId, items, total, currency} and the breakdown (minor
    # units; zeros and empty lists for a placeOrder order, never missing): subtotal, discountTotal, shipping,
    # taxTotal, itemsNet, shippingNet, pricesIncludeTax, discounts [{promotionId, code, name, amount}],
    # taxLines [{taxClass, rateBp, amount}], shippingMethod {id, name} | null, cartId | null; each item
    # {productId, variantId, sku, optionValues, variantLabel, quantity, unitPrice, discount, tax, total}
    # (order_price.item_summary: `productId` the product, `variantId` the variant sold, equal for a product
    # sold as one thing; sku/optionValues/variantLabel null on lines older than variants).
    ORDER_PLACED = "OrderPlaced"
    # Its saga succeeded: OrderPlaced's keys. Notifications mails the confirmation.
    ORDER_CONFIRMED = "OrderConfirmed"
    # It ended CANCELLED (declined, out of stock, or cancelled after confirmation): OrderPlaced's keys and
    # {code, reason}.
    ORDER_CANCELLED = "OrderCancelled"
    # Every status change after PENDING, FAILED included: {orderId, userId, status, previousStatus, reason};
    # its time is the entry's `time`. Subscriptions read it (and OrderPlaced as the change to PENDING).
    ORDER_STATUS_CHANGED = "OrderStatusChanged"
    # A signed-in customer's cart idle past `cart_abandoned_after_seconds` (abandoned_carts.py), once per idle
    # period: {cartId, userId, currency, subtotal, lines: [{productId, variantId, quantity, unitPrice}],
    # lastActivityAt}.
    CART_ABANDONED = "CartAbandoned"
    # Shipping shipped, delivered or got back (returned to the sender) a shipment of the order (from
    # shipping's events, fulfillment.py): {orderId, userId, fulfillmentStatus, previousFulfillmentStatus,
    # shipmentId, shipmentStatus, carrier, trackingNumber, trackingUrl}; the fulfillment statuses are
    # OrderFulfillmentStatus's values as shipping computed them; subscriptions read it (FULFILLMENT).
    ORDER_FULFILLMENT_CHANGED = "OrderFulfillmentChanged"
    # A return's every transition (returns.py; aggregate: the return): {returnId, orderId, userId, status,
    # reason, lines: [{line, productId, variantId, productName, variantLabel, quantity, refund}], refund:
    # {subtotal, discount, tax, shipping, total}, currency, rejectionReason} (minor units; the refund is an
    # estimate until ReturnReceived, then fixed: returns_refund.py).
    RETURN_REQUESTED = "ReturnRequested"
    RETURN_APPROVED = "ReturnApproved"
    RETURN_REJECTED = "ReturnRejected"
    RETURN_RECEIVED = "ReturnReceived"
    # The money is back with the customer and the units on hand (returns_process.py).
    RETURN_REFUNDED = "ReturnRefunded"


EMITTED: tuple[OrderEvent, ...] = tuple(OrderEvent)
# The events of a return (returns_events.py); their `reason` is emptied when the customer is deleted.
RETURN_EVENTS: tuple[OrderEvent, ...] = (
    OrderEvent.RETURN_REQUESTED,
    OrderEvent.RETURN_APPROVED,
    OrderEvent.RETURN_REJECTED,
    OrderEvent.RETURN_RECEIVED,
    OrderEvent.RETURN_REFUNDED,
)
