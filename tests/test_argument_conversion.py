"""shared/argument_conversion.py: Strawberry's argument conversion with built-in scalars answered directly
gives what Strawberry's own gives, for every kind of argument, and is the one Strawberry calls."""

from __future__ import annotations

import enum
from typing import Any

import pytest
import strawberry
from strawberry.relay import GlobalID
from strawberry.types import arguments
from strawberry.types.arguments import convert_arguments
from strawberry.types.maybe import Maybe, Some
from strawberry.types.unset import UNSET

from shared import argument_conversion
from shared.graphql import build_schema


@strawberry.enum
class Colour(enum.Enum):
    RED = "red"


@strawberry.input
class Range:
    low: int
    high: int | None = None
    colour: Colour | None = None


@strawberry.type
class Query:
    @strawberry.field
    def everything(
        self,
        text: str,
        maybe_text: str | None,
        count: int | None,
        ratio: float | None,
        flag: bool,
        ident: strawberry.ID | None,
        colour: Colour | None,
        colours: list[Colour] | None,
        words: list[str] | None,
        range: Range | None,
        ranges: list[Range] | None,
        global_id: GlobalID | None,
        tri: Maybe[str | None],
        absent: str | None = UNSET,  # type: ignore[assignment]
    ) -> str:
        return "ok"


schema = strawberry.Schema(query=Query)
FIELD = next(field for field in schema.get_type_by_name("Query").fields if field.python_name == "everything")
RANGE = {"low": 1, "high": None, "colour": Colour.RED}
VALUES: list[dict[str, Any]] = [
    {
        "text": "t",
        "maybeText": None,
        "count": None,
        "ratio": 1.5,
        "flag": False,
        "ident": "7",
        "colour": None,
        "colours": [Colour.RED],
        "words": ["a", "b"],
        "range": RANGE,
        "ranges": [RANGE, {"low": 2}],
        "globalId": None,
        "tri": None,
    },
    {
        "text": "",
        "maybeText": "m",
        "count": 3,
        "ratio": None,
        "flag": True,
        "ident": None,
        "colour": Colour.RED,
        "colours": None,
        "words": None,
        "range": None,
        "ranges": None,
        "globalId": "VGhpbmc6MQ==",
        "tri": "x",
        "absent": "here",
    },
    {"text": "only what is required", "flag": True},
]


def converted(value: dict[str, Any]) -> dict[str, Any]:
    return convert_arguments(value, FIELD.arguments, schema.schema_converter.scalar_registry, schema.config)


@pytest.mark.parametrize("value", VALUES)
def test_arguments_convert_as_strawberry_converts_them(value: dict[str, Any]) -> None:
    argument_conversion.install()
    ours = converted(value)
    arguments.convert_argument = argument_conversion.strawberry_convert_argument
    try:
        theirs = converted(value)
    finally:
        argument_conversion.install()
    assert ours == theirs
    assert [type(item) for item in ours.values()] == [type(item) for item in theirs.values()]
    if "tri" in value:
        assert isinstance(ours["tri"], Some)


def test_our_schemas_convert_with_it() -> None:
    build_schema(query=Query)
    assert arguments.convert_argument is argument_conversion.convert_argument
