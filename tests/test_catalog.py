"""The demo catalog: deterministic, unique, realistic enough for seeding and search benchmarks."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from myshop.demo.catalog import CATEGORIES, DEMO_SEARCHES, CatalogItem, generate_products
from shared.money import CURRENCIES, Money

BENCHMARK_SIZE = 10_000


@pytest.fixture(scope="module")
def benchmark_catalog() -> list[CatalogItem]:
    return generate_products(BENCHMARK_SIZE)


def _words(product: CatalogItem) -> set[str]:
    return set(re.findall(r"[a-z0-9]+", f"{product.name} {product.description}".lower()))


def test_same_seed_gives_the_same_products() -> None:
    assert generate_products(500, seed=42) == generate_products(500, seed=42)


def test_default_seed_gives_the_same_first_products_on_every_machine() -> None:
    # Pinned so that a change of word lists or drawing order, which would reshuffle every seeded
    # database and benchmark, is made on purpose.
    first, second = generate_products(2)[:2]
    assert (first.sku, first.name, first.price_amount, first.currency) == (
        "OUT-000001-LB",
        "Driftwood Packable Jacket Olive",
        7849,
        "USD",
    )
    assert (second.sku, second.name, second.currency) == (
        "BOO-000002-GD",
        "Paperkite Award-Winning Detective Novel Paperback",
        "EUR",
    )


def test_different_seeds_give_different_products() -> None:
    assert generate_products(50, seed=1) != generate_products(50, seed=2)


def test_a_small_catalog_is_the_start_of_a_larger_one() -> None:
    assert generate_products(300) == generate_products(1_000)[:300]


def test_zero_products_is_an_empty_catalog() -> None:
    assert generate_products(0) == []


def test_a_negative_count_is_refused() -> None:
    with pytest.raises(ValueError):
        generate_products(-1)


def test_names_and_skus_are_unique_at_benchmark_size(benchmark_catalog: list[CatalogItem]) -> None:
    assert len(benchmark_catalog) == BENCHMARK_SIZE
    assert len({product.name for product in benchmark_catalog}) == BENCHMARK_SIZE
    assert len({product.sku for product in benchmark_catalog}) == BENCHMARK_SIZE


def test_every_one_of_at_least_ten_categories_is_used(benchmark_catalog: list[CatalogItem]) -> None:
    assert len(CATEGORIES) >= 10
    per_category = Counter(product.category for product in benchmark_catalog)
    assert set(per_category) == set(CATEGORIES)
    assert min(per_category.values()) > BENCHMARK_SIZE // len(CATEGORIES) // 2


def test_skus_name_their_category_and_serial(benchmark_catalog: list[CatalogItem]) -> None:
    for serial, product in enumerate(benchmark_catalog, start=1):
        assert re.fullmatch(r"[A-Z]{3}-\d{6}-[A-Z]{2}", product.sku)
        assert product.sku.startswith(product.category[:3].upper())
        assert product.sku[4:10] == f"{serial:06d}"


def test_prices_are_positive_integer_minor_units(benchmark_catalog: list[CatalogItem]) -> None:
    for product in benchmark_catalog:
        assert type(product.price_amount) is int
        assert 0 < product.price_amount < 1_000_000
        assert product.price == Money(product.price_amount, product.currency)


def test_currencies_are_mostly_usd_with_some_eur_and_gbp(benchmark_catalog: list[CatalogItem]) -> None:
    per_currency = Counter(product.currency for product in benchmark_catalog)
    assert set(per_currency) == {"USD", "EUR", "GBP"}
    assert all(currency in CURRENCIES for currency in per_currency)
    assert per_currency["USD"] > BENCHMARK_SIZE // 2
    assert per_currency["EUR"] > BENCHMARK_SIZE // 20
    assert per_currency["GBP"] > BENCHMARK_SIZE // 20


def test_descriptions_are_one_to_three_finished_sentences(benchmark_catalog: list[CatalogItem]) -> None:
    for product in benchmark_catalog:
        sentences = re.split(r"(?<=\.) ", product.description)
        assert 1 <= len(sentences) <= 3, product.description
        assert all(sentence[0].isupper() and sentence.endswith(".") for sentence in sentences)
        assert "{" not in product.description and "  " not in product.description


@pytest.mark.parametrize("phrase", DEMO_SEARCHES)
def test_every_demo_search_matches_many_products(phrase: str, benchmark_catalog: list[CatalogItem]) -> None:
    words = set(phrase.lower().split())
    matches = sum(1 for product in benchmark_catalog if words <= _words(product))
    assert matches >= 20, f"{phrase!r} matches only {matches} products"


def test_there_are_about_ten_demo_searches() -> None:
    assert 8 <= len(DEMO_SEARCHES) <= 15
    assert len(set(DEMO_SEARCHES)) == len(DEMO_SEARCHES)
