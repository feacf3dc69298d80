"""The client's operation, normalized (router/pipeline/normalize.py makes it): fragment spreads inlined,
literal @skip/@include applied, every field knowing its parent and return type. Planning and response shaping
both walk this."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

# A condition: (variable name, value the variable must have for the selection to be kept).
Condition = tuple[str, bool]


def conditions_hold(conditions: Iterable[Condition], variables: Mapping[str, Any]) -> bool:
    """Whether a selection with these @skip/@include `conditions` is kept for `variables`."""
    return all(bool(variables.get(name)) == expected for name, expected in conditions)


@dataclass(slots=True)
class Field:
    name: str
    response_key: str
    alias: str | None
    arguments: str  # printed "(a: 1, b: $x)" or ""
    variables: frozenset[str]
    conditions: tuple[Condition, ...]
    parent_type: str
    type_name: str  # the named return type
    non_null: bool
    # Wrappers from the outside in: "!" non-null, "[" list; e.g. [Product!]! -> ("!", "[", "!")
    wrappers: tuple[str, ...]
    selections: list[Selection] | None = None

    @property
    def list_depth(self) -> int:
        return self.wrappers.count("[")


@dataclass(slots=True, frozen=True)
class Deferral:
    """A fragment's @defer: its label, and the variable that turns it off when false (None: always on)."""

    label: str | None
    variable: str | None = None


@dataclass(slots=True)
class Fragment:
    type_condition: str | None
    conditions: tuple[Condition, ...]
    selections: list[Selection] = field(default_factory=list)
    # @defer on the fragment (router/planner/defer.py plans it apart); None: delivered with its parent.
    defer: Deferral | None = None


Selection = Field | Fragment


@dataclass(slots=True)
class Operation:
    kind: str  # query, mutation, subscription
    name: str | None
    root_type: str
    selections: list[Selection]
    # variable name -> printed type ("ID!")
    variable_types: dict[str, str]
    # Whether a fragment anywhere carries @defer (planned twice then: router/planner/defer.py).
    defers: bool = False
