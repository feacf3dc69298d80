"""Stage: authorize (Apollo Router's authorization directives, Federation 2.5/2.6). After the variables are
coerced and before the plan, the fields and fragments the caller may not read are removed from the operation:
`@authenticated` (any verified token), `@requiresScopes(scopes: [[...]])` (the token's roles and `scope`
claim words; outer list OR, inner list AND) and `@policy(policies: [[...]])` (Python callables named in
router.yaml), on fields and on the types they return. The plan is made without them, so no subgraph ever
sees them; each answers null (bubbling up as any null does) with an UNAUTHORIZED_FIELD_OR_TYPE error at
its path.

What an operation meets is worked out once per (query text, operation name); per request only its rules are
checked, and the plan cache keys on the rules denied, so callers with the same rights share a plan."""

from __future__ import annotations

import asyncio
import dataclasses
import importlib
import inspect
import logging
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cachetools import LRUCache
from graphql import FragmentDefinitionNode, GraphQLSchema, OperationDefinitionNode, OperationType
from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector
from pydantic import BaseModel, ConfigDict, Field

from router.pipeline.errors import RequestError
from router.pipeline.normalize import normalize
from router.pipeline.plan import NO_DENIALS
from router.planner.operation import Condition, Fragment, Operation, Selection
from router.planner.operation import Field as OperationField
from router.supergraph.model import AccessRule, Supergraph

if TYPE_CHECKING:  # shared.auth imports PyJWT, httpx and redis: a router without edge auth never loads them
    from router.pipeline.request import GraphQLRequest
    from shared.auth import Principal

logger = logging.getLogger(__name__)

UNAUTHORIZED_FIELD_OR_TYPE = "UNAUTHORIZED_FIELD_OR_TYPE"
UNAUTHORIZED_MESSAGE = "Unauthorized field or type"

# A policy: (the verified principal or None, the request's headers) -> whether it holds, maybe awaited.
Policy = Callable[["Principal | None", Mapping[str, str]], bool | Awaitable[bool]]


class AuthorizationConfig(BaseModel):
    """router.yaml's `authorization:` (Apollo Router's `authorization.directives`), e.g.
    `authorization: {policies: {owner: myshop_policies:owner}, reject_unauthorized: false}`."""

    model_config = ConfigDict(extra="forbid")

    # The directives enforced; they need edge auth (`jwks_url`): without it no caller is known, and the
    # router leaves authorization to the subgraphs (router/server.py warns).
    enabled: bool = True
    # Refuse a whole request that selects anything the caller may not read, instead of removing it.
    reject_unauthorized: bool = False
    # `@policy` name -> "package.module:callable"; a name the supergraph uses without one here is denied.
    policies: dict[str, str] = Field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class _Step:
    """One step of a removed selection's path: a field (`key`, its list depth) or a fragment (`types` its
    type condition matches, `keys` the response keys only it selected)."""

    key: str | None
    lists: int = 0
    types: frozenset[str] = frozenset()
    keys: tuple[str, ...] = ()
    conditions: tuple[Condition, ...] = ()


Site = tuple[_Step, ...]


class Restriction:
    """An operation as one set of denied rules leaves it: `operation` (planned instead of the `client`'s;
    None when no root field remains) and the `sites` removed."""

    __slots__ = ("client", "operation", "sites")

    def __init__(self, client: Operation, operation: Operation | None, sites: tuple[Site, ...]) -> None:
        self.client = client
        self.operation = operation
        self.sites = sites

    def apply(self, data: dict[str, Any], variables: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Removes what was removed from the merged `data` (a subgraph answering more than it was asked must
        not leak it), so the shaper answers null there; the errors at each removed field's response path."""
        errors: list[dict[str, Any]] = []
        seen: set[tuple[Any, ...]] = set()
        for site in self.sites:
            for path in _visit(data, site, 0, (), variables):
                if path not in seen:
                    seen.add(path)
                    errors.append(unauthorized(list(path)))
        return errors

    def static_errors(self) -> list[dict[str, Any]]:
        """The errors of the removed selections without data (reject mode): `@` stands for a list's items."""
        paths: dict[tuple[Any, ...], None] = {}
        for site in self.sites:
            path: list[Any] = []
            for i, step in enumerate(site):
                if step.key is not None:
                    path += [step.key, *("@",) * (step.lists if i < len(site) - 1 else 0)]
            paths[tuple(path)] = None
        return [unauthorized(list(path)) for path in paths]


def unauthorized(path: list[Any]) -> dict[str, Any]:
    return {"message": UNAUTHORIZED_MESSAGE, "path": path, "extensions": {"code": UNAUTHORIZED_FIELD_OR_TYPE}}


def _visit(
    value: Any, site: Site, index: int, path: tuple[Any, ...], variables: Mapping[str, Any]
) -> Iterator[tuple[Any, ...]]:
    if type(value) is not dict:
        return
    step = site[index]
    if step.conditions and not all(bool(variables.get(n)) == want for n, want in step.conditions):
        return
    last = index == len(site) - 1
    if step.key is None:  # a fragment: the objects of its types only
        runtime = value.get("__typename")
        if runtime is not None and runtime not in step.types:
            return
        if last:
            for key in step.keys:
                value.pop(key, None)
            yield path
        else:
            yield from _visit(value, site, index + 1, path, variables)
        return
    if last:
        value.pop(step.key, None)
        yield (*path, step.key)
        return
    yield from _items(value.get(step.key), step.lists, site, index + 1, (*path, step.key), variables)


def _items(
    value: Any, lists: int, site: Site, index: int, path: tuple[Any, ...], variables: Mapping[str, Any]
) -> Iterator[tuple[Any, ...]]:
    if lists == 0:
        yield from _visit(value, site, index, path, variables)
    elif type(value) is list:
        for i, item in enumerate(value):
            yield from _items(item, lists - 1, site, index, (*path, i), variables)


class OperationAccess:
    """What one operation meets: its normalized form, the distinct rules on what it selects, the policies
    they name, and (cached) the operation each set of denied rules leaves."""

    __slots__ = ("_restrictions", "operation", "policies", "rules")

    def __init__(self, operation: Operation, rules: tuple[AccessRule, ...]) -> None:
        self.operation = operation
        self.rules = rules
        self.policies = tuple(
            sorted(
                {
                    name
                    for rule in rules
                    if rule.kind == "policies"
                    for group in rule.alternatives
                    for name in group
                }
            )
        )
        self._restrictions: dict[frozenset[AccessRule], Restriction] = {}


class AuthorizationStage:
    def __init__(
        self,
        schema: GraphQLSchema,
        supergraph: Supergraph,
        config: AuthorizationConfig,
        cache_size: int,
    ) -> None:
        self.schema = schema
        self.supergraph = supergraph
        self.config = config
        self.policies = load_policies(config.policies)
        used = {
            name
            for rule in _all_rules(supergraph)
            if rule.kind == "policies"
            for group in rule.alternatives
            for name in group
        }
        for name in sorted(used - set(self.policies)):
            logger.warning(
                "the supergraph's @policy %r has no callable in router.yaml: it is always denied", name
            )
        self._cache: LRUCache[tuple[str, str | None], OperationAccess] | None = (
            LRUCache(cache_size) if cache_size > 0 else None
        )
        self.removed_fields = 0  # fields (and fragments) removed from requests: the metric

    # -- per operation (cached) ----------------------------------------------------------------------

    def lookup(self, query: str, operation_name: str | None) -> OperationAccess | None:
        """What an operation seen before meets (the hot path: one look-up), else None."""
        cache = self._cache
        if cache is None:
            return None
        try:
            return cache[query, operation_name]
        except KeyError:
            return None

    def analyze(
        self,
        query: str,
        operation_name: str | None,
        node: OperationDefinitionNode,
        fragments: dict[str, FragmentDefinitionNode],
    ) -> OperationAccess:
        operation = normalize(self.schema, node, fragments)
        found: dict[AccessRule, None] = {}
        self._collect(operation.selections, operation.root_type, found)
        access = OperationAccess(operation, tuple(found))
        if self._cache is not None:
            self._cache[query, operation_name] = access
        return access

    def _collect(self, selections: list[Selection], parent: str, found: dict[AccessRule, None]) -> None:
        for selection in selections:
            if isinstance(selection, Fragment):
                condition = selection.type_condition
                if condition is not None:
                    found.update(dict.fromkeys(self._type_rules(condition)))
                self._collect(selection.selections, condition or parent, found)
                continue
            found.update(dict.fromkeys(self._field_rules(selection)))
            if selection.selections is not None:
                self._collect(selection.selections, selection.type_name, found)

    def _type_rules(self, type_name: str) -> tuple[AccessRule, ...]:
        info = self.supergraph.types.get(type_name)
        return info.access if info is not None else ()

    def _field_rules(self, field: OperationField) -> tuple[AccessRule, ...]:
        """The field's own rules, its return type's, and on an abstract parent every implementation's field's
        (a value of any of them may answer it)."""
        if field.name.startswith("__"):
            return ()
        rules = self._type_rules(field.type_name)
        info = self.supergraph.field(field.parent_type, field.name)
        if info is not None:
            rules += info.access
        parent = self.supergraph.types.get(field.parent_type)
        if parent is not None and parent.is_abstract:
            for name in sorted(self.supergraph.runtime_types(field.parent_type)):
                implementation = self.supergraph.field(name, field.name)
                if implementation is not None:
                    rules += implementation.access
        return rules

    # -- per request ---------------------------------------------------------------------------------

    async def authorize(
        self,
        request: GraphQLRequest,
        node: OperationDefinitionNode,
        query: str,
        fragments: dict[str, FragmentDefinitionNode],
    ) -> tuple[frozenset[AccessRule], Restriction | None]:
        """The rules the caller fails on this operation (the plan cache's key) and what they remove (None:
        nothing); Rejected in reject mode, RequestError for a subscription left with nothing."""
        access = self.lookup(query, request.operation_name)  # the hot path: one look-up, nothing protected
        if access is None:
            access = self.analyze(query, request.operation_name, node, fragments)
        if not access.rules:
            return NO_DENIALS, None
        denied = await self.denied(access, request.principal, request.headers)
        if not denied:
            return NO_DENIALS, None
        restriction = self.restriction(access, denied)
        if self.config.reject_unauthorized:
            raise Rejected(restriction.static_errors())
        if restriction.operation is None and node.operation is OperationType.SUBSCRIPTION:
            raise RequestError(restriction.static_errors())
        return denied, restriction

    async def denied(
        self, access: OperationAccess, principal: Principal | None, headers: Mapping[str, str]
    ) -> frozenset[AccessRule]:
        """The rules of `access` this caller fails; each policy called once."""
        if not access.rules:
            return NO_DENIALS
        results = {name: await self._policy(name, principal, headers) for name in access.policies}
        grants = principal.grants if principal is not None else frozenset()
        denied = [rule for rule in access.rules if not _holds(rule, principal, grants, results)]
        return frozenset(denied) if denied else NO_DENIALS

    async def _policy(self, name: str, principal: Principal | None, headers: Mapping[str, str]) -> bool:
        policy = self.policies.get(name)
        if policy is None:
            return False
        try:
            result = policy(principal, headers)
            if inspect.isawaitable(result):
                result = await result
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("the @policy %r raised: denied", name)
            return False
        return result is True

    def restriction(self, access: OperationAccess, denied: frozenset[AccessRule]) -> Restriction:
        """The operation without what `denied` removes (cached per set of denied rules)."""
        restriction = access._restrictions.get(denied)
        if restriction is None:
            operation = access.operation
            sites: list[Site] = []
            kept, _ = self._prune(operation.selections, operation.root_type, denied, (), sites)
            restricted = dataclasses.replace(operation, selections=kept) if kept else None
            restriction = access._restrictions[denied] = Restriction(operation, restricted, tuple(sites))
        self.removed_fields += len(
            restriction.sites
        )  # once per request: the metric counts requests' removals
        return restriction

    def _prune(
        self,
        selections: list[Selection],
        parent: str,
        denied: frozenset[AccessRule],
        path: Site,
        sites: list[Site],
    ) -> tuple[list[Selection], bool]:
        """`selections` without the fields and fragments `denied` removes (recording their sites), and
        whether anything was."""
        kept: list[Selection] = []
        dropped: list[tuple[Fragment, Site]] = []
        changed = False
        for selection in selections:
            if isinstance(selection, Fragment):
                condition = selection.type_condition
                types = frozenset(self.supergraph.runtime_types(condition or parent)) | {condition or parent}
                step = _Step(None, types=types, conditions=selection.conditions)
                if condition is not None and not denied.isdisjoint(self._type_rules(condition)):
                    dropped.append((selection, (*path, step)))
                    changed = True
                    continue
                inner, inner_changed = self._prune(
                    selection.selections, condition or parent, denied, (*path, step), sites
                )
                changed |= inner_changed
                if inner:
                    kept.append(
                        dataclasses.replace(selection, selections=inner) if inner_changed else selection
                    )
                continue
            step = _Step(selection.response_key, selection.list_depth, conditions=selection.conditions)
            if not denied.isdisjoint(self._field_rules(selection)):
                sites.append((*path, step))
                changed = True
                continue
            if selection.selections is not None:
                inner, inner_changed = self._prune(
                    selection.selections, selection.type_name, denied, (*path, step), sites
                )
                if inner_changed:
                    changed = True
                    if not any(
                        isinstance(s, OperationField) and s.response_key == "__typename" for s in inner
                    ):
                        # The object's own presence (and its type, for the fragments removed) stays known.
                        inner = [*inner, _typename(selection.type_name)]
                    selection = dataclasses.replace(selection, selections=inner)
            kept.append(selection)
        if dropped:
            still = set(_keys(kept))
            for fragment, site in dropped:
                only = tuple(key for key in dict.fromkeys(_keys(fragment.selections)) if key not in still)
                sites.append((*site[:-1], dataclasses.replace(site[-1], keys=only)))
        return (kept, True) if changed else (selections, False)

    def register_metrics(self, registry: CollectorRegistry) -> None:
        registry.register(_AuthorizationMetrics(self))


class Rejected(Exception):
    """Reject mode: the request selects what its caller may not read, and does not run."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__(errors[0]["message"])
        self.errors = errors


def _holds(
    rule: AccessRule, principal: Principal | None, grants: frozenset[str], policies: Mapping[str, bool]
) -> bool:
    if rule.kind == "authenticated":
        return principal is not None
    if rule.kind == "scopes":
        return principal is not None and any(group <= grants for group in rule.alternatives)
    return any(all(policies.get(name, False) for name in group) for group in rule.alternatives)


def _typename(type_name: str) -> OperationField:
    return OperationField(
        "__typename", "__typename", None, "", frozenset(), (), type_name, "String", True, ("!",)
    )


def _keys(selections: list[Selection]) -> Iterator[str]:
    for selection in selections:
        if isinstance(selection, Fragment):
            yield from _keys(selection.selections)
        else:
            yield selection.response_key


def _all_rules(supergraph: Supergraph) -> Iterator[AccessRule]:
    for info in supergraph.types.values():
        yield from info.access
        for field in info.fields.values():
            yield from field.access


def load_policies(names: Mapping[str, str]) -> dict[str, Policy]:
    """router.yaml's policies, each "package.module:callable" imported; ValueError naming a bad one."""
    loaded: dict[str, Policy] = {}
    for name, target in names.items():
        module_name, _, attribute = target.partition(":")
        try:
            policy = getattr(importlib.import_module(module_name), attribute)
        except (ImportError, AttributeError, ValueError) as exc:
            raise ValueError(f"authorization policy {name!r}: cannot load {target!r} ({exc})") from exc
        if not callable(policy):
            raise ValueError(f"authorization policy {name!r}: {target!r} is not callable")
        loaded[name] = policy
    return loaded


class _AuthorizationMetrics(Collector):
    def __init__(self, stage: AuthorizationStage) -> None:
        self.stage = stage

    def collect(self) -> Iterator[CounterMetricFamily]:
        yield CounterMetricFamily(
            "myshop_router_unauthorized_fields",
            "Fields and fragments removed from requests by the authorization directives (each answered null "
            "with UNAUTHORIZED_FIELD_OR_TYPE).",
            value=self.stage.removed_fields,
        )
