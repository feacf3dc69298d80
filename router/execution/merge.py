"""Merging subgraph answers into the request's merged tree: a root fetch's data into the tree, an `_entities`
answer into every entity its representation stands for."""

from __future__ import annotations

from collections.abc import Set
from typing import Any


def merge(target: dict[str, Any], source: dict[str, Any], object_types: Set[str]) -> None:
    """`source`'s fields into `target`, objects and equal-length lists field by field; an abstract
    `__typename` (an interface object's) never replaces a concrete one."""
    for key, value in source.items():
        existing = target.get(key)
        if existing is None or existing is value:
            target[key] = value
        elif key == "__typename":
            if value in object_types:
                target[key] = value
        elif type(existing) is dict and type(value) is dict:
            merge(existing, value, object_types)
        elif type(existing) is list and type(value) is list and len(existing) == len(value):
            _merge_lists(existing, value, object_types)
        else:
            target[key] = value


def _merge_lists(target: list[Any], source: list[Any], object_types: Set[str]) -> None:
    for i, value in enumerate(source):
        existing = target[i]
        if existing is value:
            continue
        if type(existing) is dict and type(value) is dict:
            merge(existing, value, object_types)
        elif type(existing) is list and type(value) is list and len(existing) == len(value):
            _merge_lists(existing, value, object_types)
        else:
            target[i] = value


def merge_entities(entities: list[Any], owners: list[list[dict[str, Any]]], object_types: Set[str]) -> None:
    """An `_entities` answer (one result per representation) into the owners of each representation."""
    for index, result in enumerate(entities[: len(owners)]):
        if type(result) is dict:
            answer: dict[str, Any] = result
            fields = answer.keys()
            for entity in owners[index]:
                # Usually the answer brings only fields the entity lacks: dict.update does what merge would
                # (set each), in C.
                if fields.isdisjoint(entity):
                    entity.update(answer)
                else:
                    merge(entity, answer, object_types)
