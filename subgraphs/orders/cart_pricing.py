"""What a cart's price depends on, read once per request: the carts, their lines, the catalog, the tax
table of each country and one shipping quote per distinct cart (DataLoaders), and the `PriceInputs` that
cart_view.cart_price takes. A method no longer offered or a voucher that stopped applying is a notice."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.dataloader import DataLoader

from shared.context import Context
from shared.peers import PeerError
from subgraphs.orders import cart_repository, pricing, taxes
from subgraphs.orders.cart_view import (
    SHIPPING_METHOD_UNAVAILABLE,
    VOUCHER_NOT_APPLICABLE,
    CartView,
    Notice,
    PriceInputs,
    pricing_lines,
)
from subgraphs.orders.models import Cart, CartLine
from subgraphs.orders.peers import CatalogProduct, ItemRef, Peers, Resolved, ShippingQuote
from subgraphs.orders.promotions import CartView as Evaluation
from subgraphs.orders.promotions import VoucherRefused, applicable_discounts
from subgraphs.orders.service import ServiceUnavailable

# (method id, country, subtotal, currency, weight): one shipping quote per distinct cart in a request.
QuoteKey = tuple[str, str, int, str, int]


class CartLoaders:
    """One request's reads of carts, their lines, the catalog, tax tables and shipping quotes, each batched
    (an `_entities` of many carts is one query per table, one catalog call, one tax table per country)."""

    @property
    def session(self) -> AsyncSession:
        return self._context.session

    def __init__(self, context: Context, peers: Peers) -> None:
        self._context = context
        self._peers = peers
        self.cart: DataLoader[uuid.UUID, Cart | None] = DataLoader(load_fn=self._load_carts)
        self.lines: DataLoader[uuid.UUID, list[CartLine]] = DataLoader(load_fn=self._load_lines)
        self.catalog: DataLoader[ItemRef, Resolved] = DataLoader(load_fn=self._load_catalog)
        self.tax_table: DataLoader[str, pricing.TaxTable] = DataLoader(load_fn=self._load_tax_tables)
        self.quote: DataLoader[QuoteKey, ShippingQuote] = DataLoader(load_fn=self._load_quotes)

    async def _load_tax_tables(self, countries: list[str]) -> list[pricing.TaxTable]:
        return [await taxes.tax_table(self._context.session, country) for country in countries]

    async def _load_quotes(self, keys: list[QuoteKey]) -> list[ShippingQuote]:
        async def one(key: QuoteKey) -> ShippingQuote:
            method_id, country, subtotal, currency, weight = key
            try:
                return await self._peers.shipping_quote(
                    method_id,
                    country=country,
                    subtotal_amount=subtotal,
                    currency=currency,
                    weight_grams=weight,
                )
            except PeerError:
                # A cart still reads while shipping is down; checkout refuses it (no price to charge).
                return ShippingQuote(method_id, "", None, "SERVICE_UNAVAILABLE")

        return list(await asyncio.gather(*(one(key) for key in keys)))

    async def _load_carts(self, keys: list[uuid.UUID]) -> list[Cart | None]:
        found = {cart.id: cart for cart in await cart_repository.get_many(self._context.session, keys)}
        return [found.get(key) for key in keys]

    async def _load_lines(self, keys: list[uuid.UUID]) -> list[list[CartLine]]:
        found = await cart_repository.lines_of(self._context.session, keys)
        return [found[key] for key in keys]

    async def _load_catalog(self, refs: list[ItemRef]) -> list[Resolved]:
        try:
            found = await self._peers.catalog(refs)
        except PeerError as exc:
            raise ServiceUnavailable("The catalog cannot be reached; try again.") from exc
        return [found.resolve(ref) for ref in refs]

    async def variants(self, lines: list[CartLine]) -> dict[str, CatalogProduct | None]:
        """The catalog's variant of each line (None: gone), by variant id: one catalog call per request."""
        resolved = await self.catalog.load_many([ItemRef(variant_id=str(line.variant_id)) for line in lines])
        return {str(line.variant_id): one.item for line, one in zip(lines, resolved, strict=True)}


async def quote(loaders: CartLoaders, bare: CartView, method_id: str) -> ShippingQuote | None:
    """Shipping's quote of `method_id` for the cart as it is (None without a country or bought line)."""
    country = bare.shipping_country
    if country is None or not any(line.available for line in bare.lines):
        return None
    key = (method_id, country, bare.price.subtotal, bare.currency, bare.weight_grams)
    return await loaders.quote.load(key)


async def price_inputs(loaders: CartLoaders, bare: CartView, prices_include_tax: bool) -> PriceInputs:
    """What the cart's price depends on now. A method shipping no longer offers for this cart, or a
    voucher that stopped applying, is a notice (not counted), never an error on a read: checkout refuses
    them."""
    cart = bare.cart
    country = bare.shipping_country
    rates = await loaders.tax_table.load(country) if country else {}
    notices: list[Notice] = []
    shipping = 0
    if cart.shipping_method_id is not None:
        quoted = await quote(loaders, bare, cart.shipping_method_id)
        if quoted is not None and quoted.price_amount is not None:
            shipping = quoted.price_amount
        elif quoted is not None:
            notices.append(
                Notice(
                    SHIPPING_METHOD_UNAVAILABLE,
                    None,
                    None,
                    "The chosen shipping method is not available for this cart.",
                    quoted.reason,
                )
            )
    discounts: list[pricing.AppliedDiscount] = []
    lines = pricing_lines(bare.lines)
    if lines:
        evaluation = Evaluation(
            lines=lines,
            currency=bare.currency,
            now=datetime.now(UTC),
            user_id=cart.user_id,
            shipping_amount=shipping,
        )
        try:
            discounts = await applicable_discounts(loaders.session, evaluation, cart.voucher_code)
        except VoucherRefused as refused:
            notices.append(
                Notice(VOUCHER_NOT_APPLICABLE, None, None, refused.message, refused.extra.get("reason"))
            )
            discounts = await applicable_discounts(loaders.session, evaluation, None)
    return PriceInputs(
        country=country,
        rates=rates,
        prices_include_tax=prices_include_tax,
        shipping_amount=shipping,
        discounts=discounts,
        notices=notices,
    )
