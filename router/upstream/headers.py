"""Which client headers reach each subgraph: router.yaml's `headers:` rules, compiled once at start.

```yaml
headers:
  all:                       # every subgraph; replaces the default (propagate every end-to-end header)
    request:
      - propagate: {named: authorization}
      - propagate: {named: x-client-version, rename: x-myshop-client-version}
      - propagate: {named: accept-language, default: en}
      - propagate: {matching: "^x-myshop-"}
      - insert: {name: x-myshop-via, value: router}
      - remove: {named: x-myshop-debug}
  subgraphs:                 # added after `all`'s rules, for that subgraph only
    payments:
      request:
        - remove: {matching: "^x-myshop-"}
```

How the rules combine: `propagate` and `remove` decide which client headers pass (by name or by regex, names
matched case-insensitively, the last rule matching a header wins); `insert` sets a fixed value, over a
propagated one; `propagate ... default` fills a header the client did not send. Without any `all` rules a
subgraph gets every client header but the hop-by-hop and body-describing ones (the router's behaviour before
these rules). Whatever the rules say, hop-by-hop headers never pass, and the router's own `x-request-id`
(and trace context) always does. `X-Forwarded-For` is the router's own too: set after every rule to the client
address the router computed (router/http/client_address.py), never the client's value, which no rule passes
(subgraphs count per-address rate limits by it); a rule that would set it is refused at start.

Per request this is dictionary work only: the regexes run once per distinct header name (a bounded cache).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from shared.client_address import FORWARDED_FOR

# Hop-by-hop and body-describing headers of the client's request must not reach a subgraph.
NOT_FORWARDED = frozenset(
    {
        "host",
        "content-length",
        "content-type",
        "content-encoding",
        "transfer-encoding",
        "connection",
        "keep-alive",
        "upgrade",
        "te",
        "trailer",
        "proxy-authorization",
        "proxy-connection",
        "accept",
        "accept-encoding",
        "expect",
    }
)
# The router's own request headers: set by the server (the request id) or by tracing, never dropped by a rule.
# (`x-forwarded-for` is the router's too, but set apart: see `for_subgraph`.)
ALWAYS_FORWARDED = frozenset({"x-request-id", "traceparent", "tracestate"})
_JSON_HEADERS = {"content-type": "application/json", "accept": "application/json"}
_NAME_CACHE_SIZE = 1024


# --- the configuration (router.yaml's `headers:`) ----------------------------------------------------------


class _Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Match(_Rule):
    named: str | None = None
    matching: str | None = None

    @field_validator("named")
    @classmethod
    def _lower(cls, value: str | None) -> str | None:
        return value.strip().lower() if value is not None else None

    @field_validator("matching")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value, re.IGNORECASE)
            except re.error as exc:
                raise ValueError(f"bad regex {value!r}: {exc}") from exc
        return value

    @model_validator(mode="after")
    def _one_of(self) -> _Match:
        if (self.named is None) == (self.matching is None):
            raise ValueError("give exactly one of `named` or `matching`")
        return self


class Propagate(_Match):
    rename: str | None = None
    default: str | None = None

    @model_validator(mode="after")
    def _named_only(self) -> Propagate:
        if (self.rename is not None or self.default is not None) and self.named is None:
            raise ValueError("`rename` and `default` go with `named`, not `matching`")
        if self.rename is not None:
            _not_router_owned(self.rename)
        elif self.default is not None and self.named is not None:
            _not_router_owned(self.named)
        return self


class Insert(_Rule):
    name: str = Field(min_length=1)
    value: str

    @field_validator("name")
    @classmethod
    def _not_forwarded_for(cls, value: str) -> str:
        return _not_router_owned(value)


def _not_router_owned(name: str) -> str:
    if name.strip().lower() == FORWARDED_FOR:
        raise ValueError(
            "the router sets X-Forwarded-For itself, to the client address it computed (`trusted_proxies`)"
        )
    return name


class HeaderRule(_Rule):
    """One rule: exactly one of propagate, insert, remove."""

    propagate: Propagate | None = None
    insert: Insert | None = None
    remove: _Match | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> HeaderRule:
        if sum(rule is not None for rule in (self.propagate, self.insert, self.remove)) != 1:
            raise ValueError("each rule is one of `propagate`, `insert` or `remove`")
        return self


class HeaderRules(_Rule):
    request: list[HeaderRule] = Field(default_factory=list)


class HeadersConfig(_Rule):
    all: HeaderRules | None = None
    subgraphs: dict[str, HeaderRules] = Field(default_factory=dict)


# --- compiled -----------------------------------------------------------------------------------------------


_Step = tuple[Literal["pass", "drop"], str | None, "re.Pattern[str] | None", str | None]


@dataclass(slots=True)
class _Plan:
    """One subgraph's rules, ready to apply."""

    steps: tuple[_Step, ...]  # (pass|drop, exact name, regex, renamed to)
    inserts: dict[str, str]
    defaults: dict[str, str]  # target name -> value when no client header was propagated to it
    names: dict[str, str | None]  # client header name -> the name it goes on as, None when dropped

    def target(self, name: str) -> str | None:
        found = self.names.get(name, "")
        if found != "":
            return found
        lower = name.lower()
        target: str | None = None
        if lower in ALWAYS_FORWARDED:
            target = lower
        elif lower not in NOT_FORWARDED and lower != FORWARDED_FOR:
            for action, exact, regex, rename in self.steps:
                if exact is not None:
                    matched = lower == exact
                else:
                    assert regex is not None
                    matched = regex.search(lower) is not None
                if matched:
                    target = (rename or lower) if action == "pass" else None
        if len(self.names) >= _NAME_CACHE_SIZE:
            self.names.clear()  # a client inventing header names cannot grow this without bound
        self.names[name] = target
        return target


def _compile(rules: list[HeaderRule]) -> _Plan:
    steps: list[_Step] = []
    inserts: dict[str, str] = {}
    defaults: dict[str, str] = {}
    for rule in rules:
        if rule.propagate is not None:
            p = rule.propagate
            regex = re.compile(p.matching, re.IGNORECASE) if p.matching is not None else None
            rename = p.rename.lower() if p.rename else None
            steps.append(("pass", p.named, regex, rename))
            if p.default is not None and p.named is not None:
                defaults[rename or p.named] = p.default
        elif rule.insert is not None:
            inserts[rule.insert.name.lower()] = rule.insert.value
        elif rule.remove is not None:
            r = rule.remove
            regex = re.compile(r.matching, re.IGNORECASE) if r.matching is not None else None
            steps.append(("drop", r.named, regex, None))
            # A later remove also takes back an earlier insert of that name.
            for name in [n for n in inserts if n == r.named or (regex is not None and regex.search(n))]:
                del inserts[name]
    return _Plan(tuple(steps), inserts, defaults, {})


_EVERYTHING = [HeaderRule(propagate=Propagate(matching="."))]


class HeaderPropagation:
    """The compiled rules of every subgraph; `for_subgraph(name, client headers)` gives a fetch's headers."""

    def __init__(self, config: HeadersConfig | Mapping[str, Any] | None = None) -> None:
        if config is None:
            config = HeadersConfig()
        elif not isinstance(config, HeadersConfig):
            config = HeadersConfig.model_validate(config)
        common = config.all.request if config.all is not None else _EVERYTHING
        self._default = _compile(common)
        self._plans = {name: _compile(common + rules.request) for name, rules in config.subgraphs.items()}

    def keyed(self, names: Mapping[str, str]) -> HeaderPropagation:
        """The same rules looked up by graph (the supergraph's enum): `names` is graph -> subgraph."""
        unknown = sorted(set(self._plans) - set(names.values()))
        if unknown:
            raise ValueError(f"header rules for unknown subgraphs: {', '.join(unknown)}")
        keyed = object.__new__(HeaderPropagation)
        keyed._default = self._default
        keyed._plans = {key: self._plans[name] for key, name in names.items() if name in self._plans}
        return keyed

    def for_subgraph(self, subgraph: str, headers: Mapping[str, str] | None) -> dict[str, str]:
        """The headers of a request to `subgraph` made for a client request with `headers`, every name in
        lower case. `headers["x-forwarded-for"]` is the client address the router computed
        (router/pipeline/request.py puts it there over the client's own), sent whatever the rules say."""
        plan = self._plans.get(subgraph, self._default)
        out: dict[str, str] = {}
        address = None
        if headers:
            address = headers.get(FORWARDED_FOR)
            known = plan.names.get
            for name, value in headers.items():
                to = known(name, "")
                if to == "":
                    to = plan.target(name)
                if to is not None:
                    out[to] = value
        if plan.defaults:
            for name, value in plan.defaults.items():
                if name not in out:
                    out[name] = value
        if plan.inserts:
            out.update(plan.inserts)
        if address is not None:
            out[FORWARDED_FOR] = address
        out.update(_JSON_HEADERS)
        return out
