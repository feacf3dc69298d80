"""The router's hot loops (router/execution/compiled.py's HOT_MODULES) built as C extensions and their .py,
the fallback: which one runs, and that both answer alike (each behaviour below runs against both in one
process; `MYSHOP_PURE_PYTHON=1 pytest tests/router` runs the whole directory on the .py)."""

from __future__ import annotations

import importlib
import importlib.machinery
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest
import test_execution_entities as entities_scenarios

from router.execution import compiled, executor

EXECUTION = Path(compiled.__file__).resolve().parent


def _extension_of(name: str) -> Path | None:
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        candidate = EXECUTION / f"{name}{suffix}"
        if candidate.exists():
            return candidate
    return None


@pytest.fixture(params=["imported", "pure"])
def hot(request: pytest.FixtureRequest) -> SimpleNamespace:
    """The hot modules as the router imports them (compiled where built), or their .py loaded beside them."""
    load = (
        compiled.pure_module
        if request.param == "pure"
        else lambda name: importlib.import_module(f"router.execution.{name}")
    )
    return SimpleNamespace(**{name: load(name) for name in compiled.HOT_MODULES})


# -- which one runs ------------------------------------------------------------------------------------------


def test_each_hot_module_built_runs_compiled_and_a_c_compiler_builds_them_all() -> None:
    """Given this install (setup.py compiles the hot modules where a C compiler is)
    When the router imports them
    Then each one with an extension beside it runs compiled, and with a compiler on PATH each has one"""
    if compiled.pure_forced():
        assert compiled.compiled_modules() == ()
        return
    built = tuple(name for name in compiled.HOT_MODULES if _extension_of(name) is not None)
    assert compiled.compiled_modules() == built
    if shutil.which("cc") or shutil.which("gcc"):
        assert built == compiled.HOT_MODULES, (
            "reinstall (make .venv/.installed or pip install -e .) to build them"
        )


def test_a_forced_pure_python_run_imports_every_hot_module_from_its_py() -> None:
    """Given MYSHOP_PURE_PYTHON=1 in a process's environment
    When that process imports the executor
    Then every hot module comes from its .py"""
    script = (
        "import router.execution.executor\n"
        "from router.execution import compiled\n"
        "import importlib\n"
        "print(compiled.compiled_modules())\n"
        "print(sorted({importlib.import_module('router.execution.' + n).__file__.rsplit('.', 1)[1]"
        " for n in compiled.HOT_MODULES}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, compiled.PURE_ENV: "1"},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert done.stdout.split("\n")[:2] == ["()", "['py']"]


def test_a_hot_module_changed_after_its_build_runs_from_its_py(tmp_path: Path) -> None:
    """Given an extension older than its .py by more than an install takes (the source edited since)
    When the finder looks for the module
    Then it answers the .py"""
    extension, source = tmp_path / "paths.so", tmp_path / "paths.py"
    extension.write_bytes(b"")
    source.write_text("")
    os.utime(extension, (1_000, 1_000))
    os.utime(source, (1_010, 1_010))
    assert compiled._stale(extension, source)
    os.utime(source, (1_001, 1_001))  # written by the same install
    assert not compiled._stale(extension, source)


def test_the_finder_answers_a_hot_module_with_its_py_when_pure_python_is_forced(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(compiled.PURE_ENV, "1")
    spec = compiled.HotModuleFinder.find_spec("router.execution.merge", [str(EXECUTION)])
    assert spec is not None and spec.origin == str(EXECUTION / "merge.py")
    assert compiled.HotModuleFinder.find_spec("router.execution.shaper", [str(EXECUTION)]) is None


def test_an_unknown_module_has_no_pure_twin() -> None:
    with pytest.raises(ValueError):
        compiled.pure_module("executor")


# -- walking the merged tree ---------------------------------------------------------------------------------


def _tree() -> dict[str, Any]:
    shared = {"__typename": "Product", "upc": "p1"}
    return {
        "reviews": [
            {"product": shared},
            {"product": shared},
            None,
            {"product": None},
            [{"product": {"__typename": "Product", "upc": "p2"}}],  # a list where an object was expected
        ],
        "top": {"__typename": "Product", "upc": "p3"},
    }


@pytest.mark.parametrize(
    ("path", "upcs"),
    [
        (("reviews", "@", "product"), ["p1", "p1", "p2"]),
        (("top",), ["p3"]),
        (("reviews", "@", "missing"), []),
        (("nothing", "@"), []),
    ],
)
def test_entities_at_finds_the_objects_at_a_path_in_document_order(
    hot: SimpleNamespace, path: tuple[str, ...], upcs: list[str]
) -> None:
    tree = _tree()
    found: list[dict[str, Any]] = []
    hot.paths.entities_at(tree, path, found)
    assert [entity["upc"] for entity in found] == upcs
    located: list[tuple[dict[str, Any], list[Any]]] = []
    hot.paths.collect(tree, path, 0, [], located)
    assert [entity for entity, _ in located] == found


def test_entities_at_returns_the_tree_s_own_objects(hot: SimpleNamespace) -> None:
    tree = _tree()
    found: list[dict[str, Any]] = []
    hot.paths.entities_at(tree, ("reviews", "@", "product"), found)
    assert found[0] is tree["reviews"][0]["product"] and found[1] is found[0]


# -- grouping entities into representations ------------------------------------------------------------------


def _product(upc: Any, **more: Any) -> dict[str, Any]:
    return {"__typename": "Product", "upc": upc, **more}


def test_entities_of_one_key_share_one_representation_and_an_object_met_twice_owns_it_once(
    hot: SimpleNamespace,
) -> None:
    first, second, other = _product("p1"), _product("p1"), _product("p2")
    found = [
        first,
        second,
        first,
        other,
        {"__typename": "Review", "upc": "p9"},
        {"upc": "p8"},
        {"__typename": "Product"},
    ]
    representations, owners = hot.representations._group_flat_one(
        found, frozenset({"Product"}), "upc", "upc", {}
    )
    assert representations == [{"upc": "p1", "__typename": "Product"}, {"upc": "p2", "__typename": "Product"}]
    assert [[id(entity) for entity in group] for group in owners] == [[id(first), id(second)], [id(other)]]


@pytest.mark.parametrize(
    ("values", "distinct"),
    [
        (["1", 1], 2),  # a string and an int are different keys
        ([1.5, 1.5], 1),  # not a plain key: JSON
        ([True, 1], 2),  # bool is not int here
        ([None, None], 1),
        ([{"a": 1, "b": 2}, {"b": 2, "a": 1}], 1),  # JSON with sorted keys: equal objects, one key
    ],
)
def test_representation_keys_tell_values_apart_as_json_does(
    hot: SimpleNamespace, values: list[Any], distinct: int
) -> None:
    found = [_product(value) for value in values]
    representations, owners = hot.representations._group_flat_one(found, None, "upc", "upc", {})
    assert len(representations) == distinct
    assert sum(len(group) for group in owners) == len(values)


def test_an_interface_object_s_representation_is_sent_under_its_interface(hot: SimpleNamespace) -> None:
    found = [{"__typename": "Book", "id": "b1"}, {"__typename": "Movie", "id": "m1"}]
    renamed = {"Book": "Media", "Movie": "Media"}
    representations, _ = hot.representations._group_flat_one(
        found, frozenset({"Book", "Movie"}), "id", "id", renamed
    )
    assert representations == [{"id": "b1", "__typename": "Media"}, {"id": "m1", "__typename": "Media"}]


def test_entities_of_a_key_of_several_fields_group_by_all_of_them(hot: SimpleNamespace) -> None:
    found = [
        _product("p1", price=10, weight=2),
        _product("p1", price=10, weight=2),
        _product("p1", price=11, weight=2),
        _product("p1", price=10),  # lacks weight: no representation
        _product("p2", price=10, weight=2.5),
    ]
    representations, owners = hot.representations._group_flat(
        found, frozenset({"Product"}), ("upc", "cost", "weight"), ("upc", "price", "weight"), {}
    )
    assert representations == []  # `cost` is the response key asked for: none has it
    representations, owners = hot.representations._group_flat(
        found, frozenset({"Product"}), ("upc", "price", "weight"), ("upc", "price", "weight"), {}
    )
    assert representations == [
        {"upc": "p1", "price": 10, "weight": 2, "__typename": "Product"},
        {"upc": "p1", "price": 11, "weight": 2, "__typename": "Product"},
        {"upc": "p2", "price": 10, "weight": 2.5, "__typename": "Product"},
    ]
    assert [len(group) for group in owners] == [2, 1, 1]


def test_the_general_grouping_keeps_what_its_keyer_makes(hot: SimpleNamespace) -> None:
    def keyed(entity: dict[str, Any]) -> tuple[dict[str, Any] | None, Any]:
        if "upc" not in entity:
            return None, None
        return {"upc": entity["upc"]}, entity["upc"]

    shared = _product("p1")
    representations, owners = hot.representations._group_general(
        [shared, shared, _product("p1"), {"__typename": "Product"}, _product("p2")], keyed
    )
    assert representations == [{"upc": "p1"}, {"upc": "p2"}]
    assert [len(group) for group in owners] == [2, 1]


# -- merging answers -----------------------------------------------------------------------------------------


def test_merge_joins_objects_and_equal_lists_field_by_field(hot: SimpleNamespace) -> None:
    target = {"a": {"x": 1}, "items": [{"p": 1}, {"p": 2}], "short": [1, 2], "n": None}
    hot.merge.merge(
        target,
        {"a": {"y": 2}, "items": [{"q": 1}, {"q": 2}], "short": [3], "n": 5},
        frozenset({"Product"}),
    )
    assert target == {
        "a": {"x": 1, "y": 2},
        "items": [{"p": 1, "q": 1}, {"p": 2, "q": 2}],
        "short": [3],
        "n": 5,
    }


def test_merge_keeps_a_concrete_typename_over_an_abstract_one(hot: SimpleNamespace) -> None:
    target = {"__typename": "Book"}
    hot.merge.merge(target, {"__typename": "Media"}, frozenset({"Book", "Movie"}))
    assert target == {"__typename": "Book"}
    hot.merge.merge(target, {"__typename": "Movie"}, frozenset({"Book", "Movie"}))
    assert target == {"__typename": "Movie"}


def test_an_entities_answer_lands_in_every_owner_of_its_representation(hot: SimpleNamespace) -> None:
    first, second, third = _product("p1"), _product("p1", reviews=[{"id": "r1"}]), _product("p2")
    hot.merge.merge_entities(
        [{"name": "one", "reviews": [{"body": "b"}]}, None, {"name": "extra"}],
        [[first, second], [third]],
        frozenset({"Product"}),
    )
    assert first == _product("p1", name="one", reviews=[{"body": "b"}])
    assert second == _product("p1", name="one", reviews=[{"id": "r1", "body": "b"}])
    assert third == _product("p2")


# -- through the executor ------------------------------------------------------------------------------------


def _executor_on(monkeypatch: pytest.MonkeyPatch, modules: SimpleNamespace) -> None:
    """The executor's hot calls bound to `modules` (gateways built after this use them)."""
    monkeypatch.setattr(executor, "entities_at", modules.paths.entities_at)
    monkeypatch.setattr(executor, "collect", modules.paths.collect)
    monkeypatch.setattr(executor, "merge", modules.merge.merge)
    monkeypatch.setattr(executor, "merge_entities", modules.merge.merge_entities)
    monkeypatch.setattr(executor, "Representations", modules.representations.Representations)


@pytest.mark.parametrize(
    "scenario",
    [
        entities_scenarios.test_an_entity_merged_into_two_places_is_asked_for_once_and_answers_in_both,
        entities_scenarios.test_an_error_on_an_entity_merged_into_two_places_names_both_paths,
        entities_scenarios.test_entities_with_equal_numeric_keys_are_sent_once,
    ],
    ids=lambda scenario: scenario.__name__.removeprefix("test_"),
)
async def test_entity_fetches_answer_alike_on_both_paths(
    hot: SimpleNamespace, monkeypatch: pytest.MonkeyPatch, scenario: Any
) -> None:
    _executor_on(monkeypatch, hot)
    await scenario()


def test_the_pure_twins_are_not_the_imported_modules() -> None:
    for name in compiled.HOT_MODULES:
        pure: ModuleType = compiled.pure_module(name)
        assert pure is not importlib.import_module(f"router.execution.{name}")
        assert pure.__file__ == str(EXECUTION / f"{name}.py")
