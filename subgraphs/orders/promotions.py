"""Promotions and vouchers: which apply to a cart, and their admin operations.

A promotion is automatic (no code: it applies by itself) or a voucher (a code the customer enters, unique
whatever its case). The rules of applying them (pricing.py then computes the amounts):

- A promotion applies when it is active, `starts_at <= now < ends_at` (either end open when null), its total
  uses are below `usage_limit` and the customer's below `per_customer_limit` (a guest never gets a promotion
  with a per-customer limit), the cart is in the promotion's currency (for a fixed amount or a minimum), the
  cart's subtotal (before any discount) reaches `minimum_subtotal`, and at least one line is in its scope
  (ALL, CATEGORIES: the line's product category, PRODUCTS: its product id, or its variant's id to scope one
  variant only).
- They combine as: the ONE best automatic promotion (the largest amount off these lines, free shipping worth
  the shipping price; ties to the oldest), then the voucher, applied to what the automatic one left. Stacking
  every automatic promotion would let two overlapping campaigns give away more than either meant.
- A voucher that does not apply is an error with `extensions.reason` (the code a frontend translates):
  VOUCHER_UNKNOWN (no such code, or deactivated), VOUCHER_NOT_YET_VALID, VOUCHER_EXPIRED,
  VOUCHER_CURRENCY, VOUCHER_MINIMUM_NOT_MET, VOUCHER_NOT_APPLICABLE (no line in scope),
  VOUCHER_SIGN_IN_REQUIRED (a guest, for a voucher limited per customer): BAD_USER_INPUT;
  VOUCHER_USED_UP, VOUCHER_ALREADY_USED (the customer's limit): CONFLICT.
- Counting a use is atomic and happens in the saga (promotion_repository.reserve_use / release_use); an
  evaluation here only says what would apply now.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from shared.context import Context
from shared.errors import BadUserInput, Conflict, MyShopError, NotFound
from shared.ids import parse_uuid
from shared.money import normalize_currency
from subgraphs.orders import promotion_repository
from subgraphs.orders.models import Promotion
from subgraphs.orders.pricing import BP, AppliedDiscount, DiscountKind, PricedLine, discount_amount

KINDS = frozenset(kind.value for kind in DiscountKind)
SCOPES = frozenset({"ALL", "CATEGORIES", "PRODUCTS"})
CODE_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{2,63}")
NAME_MAX_LENGTH = 100
CATEGORY_MAX_LENGTH = 100
MAX_SCOPE_ITEMS = 500
# Money is a GraphQL Int (32-bit signed) in the public schema.
MAX_AMOUNT = 2**31 - 1
MAX_LISTED = 100
_CODE_CONSTRAINT = "uq_promotions_code_lower"


@dataclass(frozen=True, slots=True)
class CartView:
    """What an evaluation looks at: the cart's lines, currency and subtotal, the time, the customer."""

    lines: Sequence[PricedLine]
    currency: str
    now: datetime
    user_id: uuid.UUID | None = None
    shipping_amount: int = 0

    @property
    def subtotal(self) -> int:
        return sum(line.unit_amount * line.quantity for line in self.lines)


def as_discount(promotion: Promotion) -> AppliedDiscount:
    return AppliedDiscount(
        promotion_id=str(promotion.id),
        name=promotion.name,
        kind=DiscountKind(promotion.kind),
        value=promotion.value if promotion.kind != DiscountKind.FREE_SHIPPING else 0,
        code=promotion.code,
        product_ids=frozenset(promotion.product_ids) if promotion.scope == "PRODUCTS" else None,
        categories=frozenset(promotion.categories) if promotion.scope == "CATEGORIES" else None,
    )


def refusal(promotion: Promotion, cart: CartView, customer_uses: int) -> str | None:
    """Why `promotion` does not apply to `cart` (a VOUCHER_* reason), or None when it does."""
    if not promotion.active:
        return "VOUCHER_UNKNOWN"
    if promotion.starts_at is not None and cart.now < promotion.starts_at:
        return "VOUCHER_NOT_YET_VALID"
    if promotion.ends_at is not None and cart.now >= promotion.ends_at:
        return "VOUCHER_EXPIRED"
    if promotion.usage_limit is not None and promotion.used_count >= promotion.usage_limit:
        return "VOUCHER_USED_UP"
    if promotion.per_customer_limit is not None:
        if cart.user_id is None:
            return "VOUCHER_SIGN_IN_REQUIRED"  # a guest's uses cannot be counted
        if customer_uses >= promotion.per_customer_limit:
            return "VOUCHER_ALREADY_USED"
    if promotion.currency is not None and promotion.currency != cart.currency:
        return "VOUCHER_CURRENCY"
    if promotion.minimum_subtotal is not None and cart.subtotal < promotion.minimum_subtotal:
        return "VOUCHER_MINIMUM_NOT_MET"
    discount = as_discount(promotion)
    if not any(discount.covers(line) for line in cart.lines):
        return "VOUCHER_NOT_APPLICABLE"
    return None


def worth(promotion: Promotion, cart: CartView) -> int:
    """What `promotion` alone takes off `cart` (free shipping: the shipping price)."""
    discount = as_discount(promotion)
    if discount.kind is DiscountKind.FREE_SHIPPING:
        return cart.shipping_amount
    scoped = sum(line.unit_amount * line.quantity for line in cart.lines if discount.covers(line))
    return discount_amount(discount, scoped)


def best_automatic(
    candidates: Sequence[Promotion], cart: CartView, customer_uses: dict[uuid.UUID, int]
) -> Promotion | None:
    """The automatic promotion worth most to this cart among those that apply; ties to the oldest (the
    candidates come oldest first); None when none applies or none is worth anything."""
    best: Promotion | None = None
    best_worth = 0
    for promotion in candidates:
        if promotion.code is not None or refusal(promotion, cart, customer_uses.get(promotion.id, 0)):
            continue
        value = worth(promotion, cart)
        if value > best_worth:
            best, best_worth = promotion, value
    return best


class VoucherRefused(MyShopError):
    """A voucher that does not apply; `extensions.reason` says why (see the module's docstring)."""

    def __init__(self, reason: str, message: str, **extra: Any) -> None:
        super().__init__(message, field="code", reason=reason, **extra)
        self.code = "CONFLICT" if reason in {"VOUCHER_USED_UP", "VOUCHER_ALREADY_USED"} else "BAD_USER_INPUT"  # type: ignore[misc]


_MESSAGES = {
    "VOUCHER_UNKNOWN": "No such voucher.",
    "VOUCHER_NOT_YET_VALID": "This voucher is not valid yet.",
    "VOUCHER_EXPIRED": "This voucher has expired.",
    "VOUCHER_USED_UP": "This voucher has been used up.",
    "VOUCHER_ALREADY_USED": "You have already used this voucher.",
    "VOUCHER_SIGN_IN_REQUIRED": "Sign in to use this voucher.",
    "VOUCHER_CURRENCY": "This voucher is for another currency.",
    "VOUCHER_MINIMUM_NOT_MET": "The cart's subtotal is below this voucher's minimum.",
    "VOUCHER_NOT_APPLICABLE": "No line of the cart is eligible for this voucher.",
}


async def applicable_discounts(
    session: AsyncSession, cart: CartView, voucher_code: str | None = None
) -> list[AppliedDiscount]:
    """The discounts of `cart`, in the order pricing.price applies them: the best automatic promotion, then
    the voucher. A voucher that does not apply raises VoucherRefused."""
    voucher: Promotion | None = None
    if voucher_code is not None:
        code = voucher_code.strip()
        voucher = await promotion_repository.by_code(session, code) if CODE_PATTERN.fullmatch(code) else None
        if voucher is None:
            raise VoucherRefused("VOUCHER_UNKNOWN", _MESSAGES["VOUCHER_UNKNOWN"])
    candidates = await promotion_repository.automatic_candidates(session, cart.now)
    ids = [promotion.id for promotion in candidates] + ([voucher.id] if voucher else [])
    uses = await promotion_repository.customer_uses(session, ids, cart.user_id)
    discounts: list[AppliedDiscount] = []
    automatic = best_automatic(candidates, cart, uses)
    if automatic is not None:
        discounts.append(as_discount(automatic))
    if voucher is not None:
        reason = refusal(voucher, cart, uses.get(voucher.id, 0))
        if reason is not None:
            extra = {"minimum": voucher.minimum_subtotal} if reason == "VOUCHER_MINIMUM_NOT_MET" else {}
            raise VoucherRefused(reason, _MESSAGES[reason], **extra)
        discounts.append(as_discount(voucher))
    return discounts


# --- admin ---


def clean_promotion(raw: dict[str, Any]) -> dict[str, Any]:
    """The promotion's columns from an admin's input (every field given), or BAD_USER_INPUT naming a field."""
    name = raw["name"].strip() if isinstance(raw.get("name"), str) else ""
    if not 1 <= len(name) <= NAME_MAX_LENGTH:
        raise BadUserInput(f"A name is 1 to {NAME_MAX_LENGTH} characters.", field="name")
    kind = raw.get("kind")
    if kind not in KINDS:
        raise BadUserInput("Unknown kind.", field="kind")
    value = raw.get("value") or 0
    if type(value) is not int:
        raise BadUserInput("The value is an integer.", field="value")
    currency = raw.get("currency")
    if currency is not None:
        try:
            currency = normalize_currency(currency)
        except (TypeError, ValueError) as exc:
            raise BadUserInput("Not an ISO 4217 currency code.", field="currency") from exc
    if kind == DiscountKind.PERCENTAGE and not 1 <= value <= BP:
        raise BadUserInput(f"A percentage is 1 to {BP} basis points (1000 = 10%).", field="value")
    if kind == DiscountKind.FIXED_AMOUNT:
        if not 1 <= value <= MAX_AMOUNT:
            raise BadUserInput(f"A fixed amount is 1 to {MAX_AMOUNT} minor units.", field="value")
        if currency is None:
            raise BadUserInput("A fixed amount needs its currency.", field="currency")
    if kind == DiscountKind.FREE_SHIPPING:
        value = 0
    minimum = raw.get("minimum_subtotal")
    if minimum is not None:
        if type(minimum) is not int or not 0 <= minimum <= MAX_AMOUNT:
            raise BadUserInput(f"A minimum is 0 to {MAX_AMOUNT} minor units.", field="minimumSubtotal")
        if currency is None:
            raise BadUserInput("A minimum subtotal needs its currency.", field="currency")
    scope = raw.get("scope") or "ALL"
    if scope not in SCOPES:
        raise BadUserInput("Unknown scope.", field="scope")
    product_ids = [str(parse_uuid(pid, "productIds", "a product id")) for pid in raw.get("product_ids") or []]
    categories = [c.strip() for c in raw.get("categories") or [] if isinstance(c, str)]
    if any(not 1 <= len(c) <= CATEGORY_MAX_LENGTH for c in categories):
        raise BadUserInput(f"A category is 1 to {CATEGORY_MAX_LENGTH} characters.", field="categories")
    if len(product_ids) > MAX_SCOPE_ITEMS or len(categories) > MAX_SCOPE_ITEMS:
        raise BadUserInput(f"A scope lists at most {MAX_SCOPE_ITEMS} items.", field="scope")
    if scope == "ALL" and (product_ids or categories):
        raise BadUserInput("A promotion for the whole cart lists no products or categories.", field="scope")
    if scope == "CATEGORIES" and (not categories or product_ids):
        raise BadUserInput("A CATEGORIES scope lists categories (only).", field="categories")
    if scope == "PRODUCTS" and (not product_ids or categories):
        raise BadUserInput("A PRODUCTS scope lists product ids (only).", field="productIds")
    starts_at, ends_at = raw.get("starts_at"), raw.get("ends_at")
    for field, moment in (("startsAt", starts_at), ("endsAt", ends_at)):
        if moment is not None and moment.tzinfo is None:
            raise BadUserInput("A time needs its UTC offset.", field=field)
    if starts_at is not None and ends_at is not None and ends_at <= starts_at:
        raise BadUserInput("A promotion ends after it starts.", field="endsAt")
    code = raw.get("code")
    if code is not None:
        code = code.strip()
        if not CODE_PATTERN.fullmatch(code):
            raise BadUserInput("A code is 3 to 64 letters, digits, '_' or '-'.", field="code")
    limits: dict[str, int | None] = {}
    for key, field in (("usage_limit", "usageLimit"), ("per_customer_limit", "perCustomerLimit")):
        limit = raw.get(key)
        if limit is not None and (type(limit) is not int or not 1 <= limit <= MAX_AMOUNT):
            raise BadUserInput("A limit is a positive number of uses.", field=field)
        limits[key] = limit
    active = raw.get("active")
    return {
        "name": name,
        "kind": kind,
        "value": value,
        "currency": currency,
        "scope": scope,
        "product_ids": product_ids,
        "categories": categories,
        "minimum_subtotal": minimum,
        "starts_at": starts_at,
        "ends_at": ends_at,
        "code": code,
        "active": True if active is None else bool(active),
        **limits,
    }


class PromotionAdmin:
    """Admin CRUD of promotions and vouchers (ADMIN only)."""

    def __init__(self, context: Context) -> None:
        self.context = context

    @property
    def session(self) -> AsyncSession:
        return self.context.session

    async def _own(self, raw_id: object) -> Promotion:
        promotion = await promotion_repository.lock(self.session, parse_uuid(raw_id, "id", "a promotion id"))
        if promotion is None:
            raise NotFound("No such promotion.", field="id")
        return promotion

    async def _code_free(self, code: str | None, promotion_id: uuid.UUID | None) -> None:
        if code is None:
            return
        holder = await promotion_repository.by_code(self.session, code)
        if holder is not None and holder.id != promotion_id:
            raise Conflict("Another promotion has this code.", field="code", reason="VOUCHER_CODE_TAKEN")

    async def get(self, raw_id: object) -> Promotion | None:
        return await promotion_repository.get(self.session, parse_uuid(raw_id, "id", "a promotion id"))

    async def listing(self, *, include_inactive: bool, first: int | None) -> list[Promotion]:
        limit = first if first is not None else MAX_LISTED
        if not 0 <= limit <= MAX_LISTED:
            raise BadUserInput(f"`first` is 0 to {MAX_LISTED}.", field="first")
        return await promotion_repository.listing(
            self.session, include_inactive=include_inactive, limit=limit
        )

    async def create(self, raw: dict[str, Any]) -> Promotion:
        values = clean_promotion(raw)
        await self._code_free(values["code"], None)
        try:
            async with self.session.begin_nested():
                return await promotion_repository.insert(self.session, values)
        except IntegrityError as exc:
            # Two admins creating one code at once: the unique index refuses the second.
            if _CODE_CONSTRAINT in str(exc.orig):
                raise Conflict(
                    "Another promotion has this code.", field="code", reason="VOUCHER_CODE_TAKEN"
                ) from exc
            raise

    async def update(self, raw_id: object, raw: dict[str, Any]) -> Promotion:
        """Replace every field of the promotion with `raw`; its use count stays."""
        values = clean_promotion(raw)
        promotion = await self._own(raw_id)
        await self._code_free(values["code"], promotion.id)
        if values["usage_limit"] is not None and values["usage_limit"] < promotion.used_count:
            raise Conflict(
                "The usage limit is below the uses already counted.",
                field="usageLimit",
                reason="BELOW_USED_COUNT",
                usedCount=promotion.used_count,
            )
        for key, value in values.items():
            setattr(promotion, key, value)
        promotion.updated_at = datetime.now(UTC)
        try:
            async with self.session.begin_nested():
                await self.session.flush()
        except IntegrityError as exc:
            if _CODE_CONSTRAINT in str(exc.orig):
                raise Conflict(
                    "Another promotion has this code.", field="code", reason="VOUCHER_CODE_TAKEN"
                ) from exc
            raise
        await self.session.refresh(promotion)
        return promotion

    async def delete(self, raw_id: object) -> bool:
        """Delete a promotion and its uses; orders keep the discounts they froze. NOT_FOUND when none."""
        if not await promotion_repository.remove(self.session, parse_uuid(raw_id, "id", "a promotion id")):
            raise NotFound("No such promotion.", field="id")
        return True
