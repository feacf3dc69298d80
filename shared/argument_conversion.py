"""Strawberry's conversion of a resolver's arguments, answered directly for the built-in scalars.

Strawberry converts every argument of every field it resolves, on every request
(`strawberry.types.arguments.convert_argument`). A scalar's value converts to itself (graphql-core parsed it
already), but only after an import statement inside the function, run on each call (on Python 3.11 it makes
and drops an AttributeError: about 6,000 instructions), and a dozen type checks; an optional argument takes
two calls. `products(search:, first:)` spent 8% of its instructions there (bench/service_cpu.py
--instructions: 2.068 -> 1.914 M with it).

`install` puts `convert_argument` below in its place, in Strawberry's module, for every schema of the
process: a built-in scalar, optional or not, is answered as it is, and so is an optional argument's null;
anything else (inputs, enums, lists, `Maybe`, GlobalID, custom scalars) goes to Strawberry's own conversion,
whose recursive calls come back here.
tests/test_argument_conversion.py holds both to the same answers.
"""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.types import arguments
from strawberry.types.base import StrawberryOptional

# Strawberry's own, which `install` replaces.
strawberry_convert_argument = arguments.convert_argument

# Types whose values Strawberry returns unchanged: leaf types of the default scalar registry (not GlobalID).
# By identity (their ids: they live as long as the process), as a type annotation need not be hashable.
_AS_THEY_ARE = frozenset(map(id, (str, int, float, bool, strawberry.ID)))


def convert_argument(
    value: object,
    type_: Any,
    scalar_registry: Any,
    config: Any,
    info: Any = None,
    *,
    path: tuple[str | int, ...] = (),
) -> object:
    # `StrawberryMaybe` (a subclass of StrawberryOptional) wraps its value in `Some`: not this path.
    if type_.__class__ is StrawberryOptional:
        if value is None:
            return None  # an optional argument's null, whatever its type
        type_ = type_.of_type
        if id(type_) in _AS_THEY_ARE:
            return value
        return strawberry_convert_argument(value, type_, scalar_registry, config, info, path=path)
    if id(type_) in _AS_THEY_ARE:
        return value  # UNSET included, as Strawberry returns it
    return strawberry_convert_argument(value, type_, scalar_registry, config, info, path=path)


def install() -> None:
    arguments.convert_argument = convert_argument  # type: ignore[assignment]
