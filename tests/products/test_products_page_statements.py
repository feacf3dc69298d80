"""Page statements are built once per shape of listing and run with each request's values
(search_repository `_template`): run with another request's values, a statement must be exactly the one
built for that request, SQL and every parameter (a value left out of `_filter_values` would be stale)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy.dialects import postgresql

from subgraphs.products import search_repository
from subgraphs.products.search_repository import ProductFilter

FIRST = uuid.uuid4()
SECOND = uuid.uuid4()


def compiled(statement: Any, values: dict[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
    sql = statement.compile(dialect=postgresql.asyncpg.dialect())
    return str(sql), sql.construct_params(values) if values is not None else sql.params


PAIRS = [
    (ProductFilter(search="coffee"), ProductFilter(search="garden hose")),
    (ProductFilter(search="tea", category="Food"), ProductFilter(search="mat", category="Sports")),
    (ProductFilter(categories=("A", "B")), ProductFilter(categories=("C", "D"))),
    (
        ProductFilter(price_min=100, price_max=900, currency="USD", in_stock=True),
        ProductFilter(price_min=5, price_max=7, currency="EUR", in_stock=True),
    ),
    (ProductFilter(include_archived=True), ProductFilter(include_archived=True)),
]


@pytest.mark.parametrize(("first", "second"), PAIRS)
@pytest.mark.parametrize("with_total", [False, True])
@pytest.mark.parametrize("kind", ["search", "newest", "price_asc", "price_desc"])
@pytest.mark.parametrize("paged", [False, True])
def test_a_statement_built_for_one_request_runs_another_exactly(
    first: ProductFilter, second: ProductFilter, with_total: bool, kind: str, paged: bool
) -> None:
    def build(filters: ProductFilter, limit: int, number: int) -> tuple[Any, dict[str, Any]]:
        values = search_repository._filter_values(filters, limit)
        product = FIRST if number == 1 else SECOND
        if kind == "search":
            after = (0.5 / number, product) if paged else None
            statement = search_repository.search_page_statement(
                filters, after=after, limit=limit, with_total=with_total
            )
            keys = ("after_rank", "after_id")
        elif kind == "newest":
            after = (datetime(2024, number, 1, tzinfo=UTC), product) if paged else None
            statement = search_repository.newest_page_statement(
                filters, after=after, limit=limit, with_total=with_total
            )
            keys = ("after_created_at", "after_id")
        else:
            after = (100 * number, product) if paged else None
            statement = search_repository.price_page_statement(
                filters, descending=kind == "price_desc", after=after, limit=limit, with_total=with_total
            )
            keys = ("after_price", "after_id")
        if after is not None:
            values.update(zip(keys, after, strict=True))
        return statement, values

    if kind == "search" and (first.search is None or second.search is None):
        pytest.skip("a search by relevance needs a search")
    assert search_repository._filter_shape(first) == search_repository._filter_shape(second)
    template, _ = build(first, 21, 1)
    fresh, values = build(second, 11, 2)
    assert compiled(template, values) == compiled(fresh)
