"""Demo products sold in options (a T-shirt in 3 sizes x 2 colours, running shoes in 5 sizes, ...), beside the
generated catalog (`catalog.py`) whose products are each one thing. Plain data: `variants.py` inserts it into
products, `inventory.seed_variant_stock` stocks its variants.

Ids are UUID v5 of the SKUs in the demo's namespace (`demo_product_id`), for products and variants alike, so
every service's seed names the same variant without asking products (inventory keys stock rows by variant id).
"""

from __future__ import annotations

import uuid
import zlib
from dataclasses import dataclass, field
from itertools import product as combinations

from myshop.demo.catalog import demo_product_id


@dataclass(frozen=True, slots=True)
class DemoVariant:
    sku: str
    option_values: dict[str, str]
    price_amount: int | None = None  # None: the product's
    weight_grams: int | None = None  # None: the product's

    @property
    def id(self) -> uuid.UUID:
        return demo_product_id(self.sku)

    @property
    def quantity(self) -> int:
        """Units on hand in the demo warehouse: the same for a SKU on every machine; about one variant in
        seven sold out and one in seven nearly (1 to 4 units), so a shop page shows every state."""
        draw = zlib.crc32(self.sku.encode()) % 70
        if draw < 10:
            return 0
        if draw < 20:
            return 1 + draw % 4
        return 10 + draw


@dataclass(frozen=True, slots=True)
class DemoVariantProduct:
    sku: str
    name: str
    description: str
    category: str
    price_amount: int  # minor units of `currency`: the list price, which variants without one inherit
    currency: str
    weight_grams: int
    options: tuple[tuple[str, tuple[str, ...]], ...]
    variants: tuple[DemoVariant, ...] = field(default=())

    @property
    def id(self) -> uuid.UUID:
        return demo_product_id(self.sku)

    @property
    def tax_class(self) -> str:
        return "standard"


def _product(
    sku: str,
    name: str,
    description: str,
    category: str,
    price: tuple[int, str],
    weight_grams: int,
    options: dict[str, tuple[str, ...]],
    prices: dict[str, int] | None = None,
    weights: dict[str, int] | None = None,
) -> DemoVariantProduct:
    """A product with one variant per combination of `options`; `prices`/`weights`: an option value whose
    variants have a price/weight of their own (a larger size costs and weighs more)."""
    prices, weights = prices or {}, weights or {}
    variants = []
    for values in combinations(*options.values()):
        chosen = dict(zip(options, values, strict=True))
        suffix = "-".join(value.upper().replace(" ", "")[:4] for value in values)
        variants.append(
            DemoVariant(
                sku=f"{sku}-{suffix}",
                option_values=chosen,
                price_amount=next((prices[v] for v in values if v in prices), None),
                weight_grams=next((weights[v] for v in values if v in weights), None),
            )
        )
    return DemoVariantProduct(
        sku=sku,
        name=name,
        description=description,
        category=category,
        price_amount=price[0],
        currency=price[1],
        weight_grams=weight_grams,
        options=tuple((name, values) for name, values in options.items()),
        variants=tuple(variants),
    )


DEMO_VARIANT_PRODUCTS: tuple[DemoVariantProduct, ...] = (
    _product(
        "FSH-TEE-HARBOR",
        "Harbor Organic Cotton T-Shirt",
        "A heavyweight organic cotton tee with a relaxed fit. Pre-shrunk: it keeps its size wash after wash.",
        "Fashion",
        (1999, "USD"),
        180,
        {"Size": ("S", "M", "L"), "Colour": ("Navy", "White")},
        prices={"L": 2199},
        weights={"L": 210},
    ),
    _product(
        "SPT-SHOE-TRAILPACE",
        "Trailpace Running Shoes",
        "Cushioned trail running shoes with a grippy lug sole and a breathable mesh upper.",
        "Sports",
        (8999, "USD"),
        620,
        {"Size": ("40", "41", "42", "43", "44")},
        prices={"44": 9499},
        weights={"43": 660, "44": 700},
    ),
    _product(
        "FSH-BEANIE-ALPINE",
        "Alpine Merino Beanie",
        "A soft ribbed beanie knitted from fine merino wool: warm, breathable and never itchy.",
        "Fashion",
        (2400, "EUR"),
        90,
        {"Colour": ("Charcoal", "Forest", "Rust")},
    ),
    _product(
        "HOM-MUG-EVERYDAY",
        "Everyday Stoneware Mug",
        "A sturdy stoneware mug with a matte glaze, safe in the dishwasher and the microwave.",
        "Home & Kitchen",
        (1200, "GBP"),
        340,
        {"Capacity": ("250 ml", "350 ml"), "Colour": ("Sand", "Slate")},
        prices={"350 ml": 1400},
        weights={"350 ml": 420},
    ),
)
