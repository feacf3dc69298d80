"""The executor's path for plain fields (shared/graphql.py `RequestExecutor.execute_field`,
shared/plain_fields.py): scalars and whole selections of plain objects read directly, without resolve info,
and answered exactly as graphql-core's own path answers, errors included."""

from __future__ import annotations

import enum
from typing import Annotated, Any

import pytest
import strawberry
from graphql import FieldNode, parse
from strawberry.extensions import SchemaExtension
from strawberry.permission import BasePermission

from shared.graphql import RequestExecutor
from shared.plain_fields import Plans, completion


class Never(BasePermission):
    message = "never"

    def has_permission(self, source: Any, info: strawberry.Info, **kwargs: Any) -> bool:
        return False


@strawberry.enum
class Colour(enum.Enum):
    RED = "red"


@strawberry.type
class Money:
    amount: int
    currency: str


@strawberry.interface
class Named:
    name: str


@strawberry.type
class Item(Named):
    price: Money
    tags: list[str]
    parts: list[Money | None] | None
    note: str | None
    count: int
    colour: Colour
    secret: str = strawberry.field(permission_classes=[Never])

    @strawberry.field
    def shout(self) -> str:
        return self.name.upper()

    @strawberry.field
    def whisper(self, info: strawberry.Info) -> str:
        return self.name.lower()


def make_items() -> list[Item]:
    return [
        Item(
            name=f"item {n}",
            price=Money(amount=100 * n, currency="USD"),
            tags=["a", "b"],
            parts=[Money(amount=n, currency="EUR"), None],
            note=None,
            count=n,
            colour=Colour.RED,
            secret="s",
        )
        for n in range(3)
    ]


def make_broken() -> Item:
    return Item(
        name=None,  # type: ignore[arg-type]
        price=Money(amount=None, currency="USD"),  # type: ignore[arg-type]
        tags=None,  # type: ignore[arg-type]
        parts="nope",  # type: ignore[arg-type]
        note=None,
        count="many",  # type: ignore[arg-type]
        colour=Colour.RED,
        secret="s",
    )


@strawberry.type
class Query:
    @strawberry.field
    def items(self, info: strawberry.Info) -> list[Item]:
        return make_items()

    @strawberry.field
    def broken(self) -> Item:
        return make_broken()

    @strawberry.field
    async def later(self, info: strawberry.Info) -> list[Item]:
        """A resolver the plain path does not call (async, with info): what it returns may still be plain."""
        return make_items()

    @strawberry.field
    async def things(self) -> list[Annotated[Item | Money, strawberry.union("Thing")] | None]:
        """What a router's `_entities` returns: a list of a union, one fragment per type it asks about."""
        first, *_ = make_items()
        return [first, Money(amount=5, currency="EUR"), None, make_items()[2]]

    @strawberry.field
    async def later_broken(self) -> Item:
        return make_broken()

    @strawberry.field
    def wrong_type(self) -> Item:
        return Money(amount=1, currency="USD")  # type: ignore[return-value]


@strawberry.type
class Loose:
    """Values of other Python types than their scalars' own: graphql-core serializes (or refuses) them."""

    text: str
    ident: strawberry.ID
    flag: bool
    count: int


@strawberry.type
class LooseQuery:
    @strawberry.field
    def loose(self, case: int) -> Loose:
        cases = [
            Loose(text=5, ident=7, flag=1, count=True),  # type: ignore[arg-type]
            Loose(text=True, ident="id", flag=False, count=2**31 - 1),  # type: ignore[arg-type]
            Loose(text="t", ident="id", flag=True, count=2**31),
            Loose(text="t", ident="id", flag=True, count=-(2**31) - 1),
            Loose(text=["no"], ident="id", flag=True, count=1),  # type: ignore[arg-type]
            Loose(text="t", ident=1.5, flag="yes", count=1),  # type: ignore[arg-type]
        ]
        return cases[case]


class CountingExecutor(RequestExecutor):
    infos = 0
    objects = 0  # objects completed by graphql-core (collecting their subfields)

    def build_resolve_info(self, *args: Any, **kwargs: Any) -> Any:
        CountingExecutor.infos += 1
        return super().build_resolve_info(*args, **kwargs)

    def complete_object_value(self, *args: Any, **kwargs: Any) -> Any:
        CountingExecutor.objects += 1
        return super().complete_object_value(*args, **kwargs)


class ResolvingExtension(SchemaExtension):
    def resolve(self, _next: Any, root: Any, info: strawberry.Info, *args: Any, **kwargs: Any) -> Any:
        return _next(root, info, *args, **kwargs)


def schema_of(*extensions: Any) -> strawberry.Schema:
    return strawberry.Schema(
        query=Query, execution_context_class=CountingExecutor, extensions=list(extensions)
    )


async def run(schema: strawberry.Schema, query: str) -> tuple[Any, int]:
    CountingExecutor.infos = CountingExecutor.objects = 0
    result = await schema.execute(query)
    return result, CountingExecutor.infos


async def test_plain_scalar_fields_are_answered_without_resolve_info() -> None:
    result, infos = await run(schema_of(), "{ items { name note count colour shout whisper } }")
    assert result.errors is None
    assert result.data == {
        "items": [
            {
                "name": f"item {n}",
                "note": None,
                "count": n,
                "colour": "RED",
                "shout": f"ITEM {n}",
                "whisper": f"item {n}",
            }
            for n in range(3)
        ]
    }
    # `items` and the three `whisper`s ask for the info; attributes and `shout` (a method of `self` alone)
    # need none.
    assert infos == 4


async def test_a_schema_extension_resolving_fields_still_sees_every_field() -> None:
    result, infos = await run(schema_of(ResolvingExtension), "{ items { name note count colour } }")
    assert result.errors is None
    assert infos == 1 + 3 * 4


async def test_a_field_with_a_permission_is_still_checked() -> None:
    result, _ = await run(schema_of(), "{ items { name secret } }")
    assert result.data is None
    assert [error.message for error in result.errors or []] == ["never"]


async def test_plain_objects_and_lists_are_answered_without_resolve_info() -> None:
    query = "{ items { __typename name cost: price { amount currency } tags parts { amount } shout } }"
    fast, infos = await run(schema_of(), query)
    slow, _ = await run(schema_of(ResolvingExtension), query)
    assert fast.errors is None
    assert fast.data == slow.data
    assert fast.data == {
        "items": [
            {
                "__typename": "Item",
                "name": f"item {n}",
                "cost": {"amount": 100 * n, "currency": "USD"},
                "tags": ["a", "b"],
                "parts": [{"amount": n}, None],
                "shout": f"ITEM {n}",
            }
            for n in range(3)
        ]
    }
    assert list(fast.data["items"][0]) == ["__typename", "name", "cost", "tags", "parts", "shout"]
    assert infos == 1  # `items` alone has a resolver


async def test_what_a_resolver_returns_is_answered_without_resolve_info_when_its_selection_is_plain() -> None:
    query = "{ later { name cost: price { amount currency } tags parts { amount } shout } }"
    fast, infos = await run(schema_of(), query)
    completed_by_graphql_core = CountingExecutor.objects
    slow, _ = await run(schema_of(ResolvingExtension), query)
    assert fast.errors is None
    assert fast.data == slow.data
    assert [item["cost"]["amount"] for item in fast.data["later"]] == [0, 100, 200]
    assert infos == 1  # `later` alone
    # Its items, their prices and parts answered directly: graphql-core collected the subfields of none (of
    # 3 items, 3 prices and 3 parts on its own path).
    assert completed_by_graphql_core == 0
    assert CountingExecutor.objects == 9


@pytest.mark.parametrize(
    ("query", "plain"),
    [
        ("{ things { ... on Item { name price { amount } } } }", True),
        ("{ things { ... on Item { name } ... on Money { currency } } }", True),
        ("{ things { __typename ... on Item { name } } }", False),
        ("{ things { ... on Named { name } } }", False),
        ("{ things { ... on Item { name } ... on Item { count } } }", False),
    ],
)
async def test_a_list_of_a_union_selected_by_fragments_is_answered_as_graphql_core_answers(
    query: str, plain: bool
) -> None:
    fast, _ = await run(schema_of(), query)
    completed_by_graphql_core = CountingExecutor.objects
    slow, _ = await run(schema_of(ResolvingExtension), query)
    assert fast.errors is None
    assert fast.data == slow.data
    assert len(fast.data["things"]) == 4
    assert fast.data["things"][2] is None
    assert (completed_by_graphql_core == 0) is plain


@pytest.mark.parametrize(
    "query",
    [
        "{ items { price { ... on Money { amount } currency } } }",
        "{ items { price { amount @include(if: false) currency } } }",
        "{ items { price { amount amount } } }",
        "{ items { price { amount } price { currency } } }",
    ],
)
async def test_selections_graphql_core_must_collect_take_its_path(query: str) -> None:
    fast, infos = await run(schema_of(), query)
    slow, _ = await run(schema_of(ResolvingExtension), query)
    assert (fast.data, fast.errors) == (slow.data, slow.errors)
    assert infos > 1


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("{ broken { name } }", "Cannot return null for non-nullable field Item.name."),
        ("{ broken { count } }", "Int cannot represent non-integer value: 'many'"),
        ("{ broken { shout } }", "'NoneType' object has no attribute 'upper'"),
        (
            "{ broken { price { amount currency } } }",
            "Cannot return null for non-nullable field Money.amount.",
        ),
        ("{ broken { tags } }", "Cannot return null for non-nullable field Item.tags."),
        (
            "{ broken { parts { amount } } }",
            "Expected Iterable, but did not find one for field 'Item.parts'.",
        ),
        ("{ wrongType { name } }", "Expected value of type 'Item' but got: <Money instance>."),
        (
            "{ laterBroken { price { amount currency } } }",
            "Cannot return null for non-nullable field Money.amount.",
        ),
    ],
)
async def test_plain_fields_that_fail_fail_as_graphql_core_says(query: str, message: str) -> None:
    fast, _ = await run(schema_of(), query)
    slow, _ = await run(schema_of(ResolvingExtension), query)
    assert [error.message for error in fast.errors or []] == [message]
    assert [(e.message, e.path) for e in fast.errors or []] == [
        (e.message, e.path) for e in slow.errors or []
    ]
    assert fast.data == slow.data


@pytest.mark.parametrize("case", range(6))
async def test_built_in_scalars_of_other_python_types_are_answered_as_graphql_core_answers(case: int) -> None:
    query = f"{{ loose(case: {case}) {{ text ident flag count }} }}"
    fast = await strawberry.Schema(query=LooseQuery, execution_context_class=RequestExecutor).execute(query)
    slow = await strawberry.Schema(query=LooseQuery, extensions=[ResolvingExtension]).execute(query)
    assert fast.data == slow.data
    assert [(e.message, e.path) for e in fast.errors or []] == [
        (e.message, e.path) for e in slow.errors or []
    ]
    if case < 2:
        assert fast.errors is None
    else:
        assert fast.errors, "a value the scalar refuses is an error"


def name_node(query: str) -> FieldNode:
    items = parse(query).definitions[0].selection_set.selections[0]  # type: ignore[attr-defined]
    return items.selection_set.selections[0]  # type: ignore[no-any-return]


def test_plans_are_kept_per_parsed_field_and_parent_type_up_to_their_limit() -> None:
    schema = strawberry.Schema(query=Query)._schema
    item, money = schema.get_type("Item"), schema.get_type("Money")
    plans = Plans(limit=3)
    node = name_node("{ items { name } }")
    planned = plans.get(item, node)  # type: ignore[arg-type]
    assert planned is not None
    # The same parsed field (an operation from the parser's cache) is planned once
    assert plans.get(item, node) is planned  # type: ignore[arg-type]
    # The same field parsed again is a field of its own; under another parent type, a plan of its own
    again = plans.get(item, name_node("{ items { name } }"))  # type: ignore[arg-type]
    assert again is not None and again is not planned
    assert plans.get(money, node) is None  # type: ignore[arg-type]  # Money has no `name`
    # At the limit every plan is dropped and made again
    assert plans.get(item, node) is planned  # type: ignore[arg-type]
    plans.get(item, name_node("{ items { name } }"))  # type: ignore[arg-type]
    assert plans.get(item, node) is not planned  # type: ignore[arg-type]


def items_node(query: str) -> FieldNode:
    return parse(query).definitions[0].selection_set.selections[0]  # type: ignore[attr-defined, no-any-return]


def test_objects_of_one_shape_share_their_compiled_code_and_keep_their_own_keys() -> None:
    item = strawberry.Schema(query=Query)._schema.get_type("Item")
    aliased = completion(item, items_node("{ items { a: name count } }"))  # type: ignore[arg-type]
    other_alias = completion(item, items_node("{ items { b: name count } }"))  # type: ignore[arg-type]
    other_order = completion(item, items_node("{ items { count name } }"))  # type: ignore[arg-type]
    assert aliased is not None and other_alias is not None and other_order is not None
    value = make_items()[1]
    assert aliased(value) == {"a": "item 1", "count": 1}
    assert other_alias(value) == {"b": "item 1", "count": 1}
    assert list(other_order(value)) == ["count", "name"]
    # The keys (a client's aliases) are not in the source: one shape, one compiled code
    assert aliased.__code__ is other_alias.__code__
    assert other_order.__code__ is not aliased.__code__
