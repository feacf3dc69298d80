"""Deterministic, real-looking demo products for `myshop seed` and the search benchmark."""

from __future__ import annotations

import random
import uuid
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from myshop.demo.catalog_words import CATEGORY_WORDS, DEMO_SEARCHES
from shared.money import Money

__all__ = ["CATEGORIES", "DEMO_SEARCHES", "CatalogItem", "demo_product_id", "generate_products"]

_T = TypeVar("_T")

# The namespace of demo product ids: a demo product has the same id in every database and every service's
# seed (inventory stocks the demo products by id without asking products). Never change it.
DEMO_PRODUCT_NAMESPACE = uuid.UUID("6f1c3f0e-2b8a-5d4c-9e7a-4d2b1c0a9e51")


def demo_product_id(sku: str) -> uuid.UUID:
    """The id of the demo product with this SKU (a UUID v5 of the SKU)."""
    return uuid.uuid5(DEMO_PRODUCT_NAMESPACE, sku)


@dataclass(frozen=True, slots=True)
class CatalogItem:
    sku: str
    name: str
    description: str
    price_amount: int  # minor units of `currency`
    currency: str
    category: str

    @property
    def price(self) -> Money:
        return Money(self.price_amount, self.currency)

    @property
    def tax_class(self) -> str:
        return REDUCED_TAX_CATEGORIES.get(self.category, "standard")

    @property
    def weight_grams(self) -> int:
        """A plausible weight for the category, the same for a SKU on every machine (drawn from the SKU, not
        from the generator, so adding weights changed no product)."""
        low, high = DEMO_WEIGHTS.get(self.category, (100, 2000))
        return low + zlib.crc32(self.sku.encode()) % (high - low + 1)


# Food and books carry the reduced rate (as in most VAT countries); everything else the standard one.
REDUCED_TAX_CATEGORIES = {"Books": "reduced", "Grocery": "reduced"}
# (lightest, heaviest) in grams, by category.
DEMO_WEIGHTS = {
    "Electronics": (150, 4000),
    "Books": (200, 1200),
    "Home & Kitchen": (300, 6000),
    "Outdoors": (400, 8000),
    "Toys": (100, 2500),
    "Beauty": (50, 600),
    "Sports": (200, 5000),
    "Grocery": (100, 2000),
    "Fashion": (150, 1500),
    "Garden": (300, 10000),
    "Office": (100, 5000),
    "Pet Supplies": (200, 8000),
}


@dataclass(frozen=True, slots=True)
class _ProductLine:
    """A family of products whose adjectives, variants, prices and blurbs fit every noun in it."""

    nouns: tuple[str, ...]
    adjectives: tuple[str, ...]
    variants: tuple[str, ...]
    price_range: tuple[int, int]  # whole US dollars, both ends included
    # Opening sentences of a description; they may use {brand} and {noun}.
    blurbs: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _Category:
    name: str
    sku_prefix: str
    brands: tuple[str, ...]
    closing_sentences: tuple[str, ...]
    lines: tuple[_ProductLine, ...]


def _line(
    nouns: str, adjectives: str, variants: str, price_range: tuple[int, int], *blurbs: str
) -> _ProductLine:
    """A product line of `CATEGORY_WORDS`, its "a|b|c" word lists split."""
    return _ProductLine(
        tuple(nouns.split("|")), tuple(adjectives.split("|")), tuple(variants.split("|")), price_range, blurbs
    )


def _category(
    name: str, sku_prefix: str, brands: str, closing_sentences: tuple[str, ...], *lines: tuple[Any, ...]
) -> _Category:
    return _Category(
        name, sku_prefix, tuple(brands.split("|")), closing_sentences, tuple(_line(*line) for line in lines)
    )


_CATEGORIES: tuple[_Category, ...] = tuple(_category(*words) for words in CATEGORY_WORDS)
CATEGORIES: tuple[str, ...] = tuple(category.name for category in _CATEGORIES)


# (currency, cumulative share of products, price against the USD price in percent): 80% USD,
# 12% EUR, 8% GBP.
_CURRENCY_MIX: tuple[tuple[str, float, int], ...] = (("USD", 0.8, 100), ("EUR", 0.92, 92), ("GBP", 1.0, 79))
_PRICE_ENDINGS: tuple[int, ...] = (99, 99, 99, 49, 95, 0)  # cents: charm prices, sometimes round
_SKU_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"  # no I or O: they read as 1 and 0 on a label
_KEEP_CAPITALIZED = frozenset({"French", "Japanese", "Italian", "Dutch", "Chelsea"})
_NAME_ATTEMPTS = 32


def generate_products(count: int, *, seed: int = 7) -> list[CatalogItem]:
    """Return ``count`` products, the same ones for the same seed on every machine and Python.

    Names and SKUs are unique. Only ``Random.random()`` is drawn from: it is the one method whose
    sequence Python guarantees across versions for a given seed (``choice``, ``randint`` and
    ``shuffle`` have changed before).
    """
    if count < 0:
        raise ValueError(f"count must be zero or more, not {count}")
    rng = random.Random(seed)
    used_names: set[str] = set()
    products: list[CatalogItem] = []
    for serial in range(1, count + 1):
        category = _pick(rng, _CATEGORIES)
        line = _pick(rng, category.lines)
        brand, noun, name = _unique_name(rng, category, line, used_names)
        used_names.add(name)
        currency, price_amount = _price(rng, line.price_range)
        suffix = _pick(rng, _SKU_LETTERS) + _pick(rng, _SKU_LETTERS)
        products.append(
            CatalogItem(
                sku=f"{category.sku_prefix}-{serial:06d}-{suffix}",
                name=name,
                description=_description(rng, category, line, brand, noun),
                price_amount=price_amount,
                currency=currency,
                category=category.name,
            )
        )
    return products


def _pick(rng: random.Random, options: Sequence[_T]) -> _T:
    return options[int(rng.random() * len(options))]


def _unique_name(
    rng: random.Random, category: _Category, line: _ProductLine, used_names: set[str]
) -> tuple[str, str, str]:
    for _ in range(_NAME_ATTEMPTS):
        brand, noun = _pick(rng, category.brands), _pick(rng, line.nouns)
        name = f"{brand} {_pick(rng, line.adjectives)} {noun} {_pick(rng, line.variants)}"
        if name not in used_names:
            return brand, noun, name
    # Only reached when a catalog far larger than the benchmark's crowds a product line.
    generation = 2
    while f"{name} Gen {generation}" in used_names:
        generation += 1
    return brand, noun, f"{name} Gen {generation}"


def _price(rng: random.Random, price_range: tuple[int, int]) -> tuple[str, int]:
    low, high = price_range
    dollars = low + int(rng.random() * (high - low + 1))
    ending = _pick(rng, _PRICE_ENDINGS)
    draw = rng.random()
    currency, _, percent = next(entry for entry in _CURRENCY_MIX if draw < entry[1])
    # All three currencies have two minor-unit digits, so "cents" is right for each of them.
    return currency, max(dollars * percent // 100, 1) * 100 + ending


def _description(rng: random.Random, category: _Category, line: _ProductLine, brand: str, noun: str) -> str:
    sentences = [_pick(rng, line.blurbs).format(brand=brand, noun=_in_sentence(noun))]
    closing = list(category.closing_sentences)
    for _ in range(_pick(rng, (0, 1, 1, 2))):
        sentences.append(closing.pop(int(rng.random() * len(closing))))
    return " ".join(sentences)


def _in_sentence(noun: str) -> str:
    """'Pour-Over Coffee Maker' -> 'pour-over coffee maker'; 'USB-C' and 'French' keep their capitals."""
    return " ".join(
        word if word.isupper() or word in _KEEP_CAPITALIZED else word.lower() for word in noun.split()
    )
