"""Random requests for the router over MyShop's API schema, and the verdict on each answer: the generator of
tests/security/test_fuzz.py (a short run in CI) and bench/fuzz_router.py (a long one), so both send the same.

Operations come from `hypothesis-graphql` (valid ones and ones with one schema violation), some with their
arguments moved into variables (valid values, then a wrong type in one of them), some with the document
itself mangled, and some bodies that are no GraphQL request at all. An answer fails when it is a 5xx, an
`extensions.code` of `INTERNAL`, or no answer within the timeout.
"""

from __future__ import annotations

import dataclasses
import json
import re
import urllib.parse
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import graphql
import httpx
from hypothesis import strategies as st
from hypothesis_graphql import Mode, from_schema

from router.supergraph.api_schema import build_api_schema
from router.supergraph.loader import load_supergraph

# Strings with a NUL or a lone surrogate (what PostgreSQL refuses; shared/input_hygiene.py answers them
# BAD_USER_INPUT): on. Off leaves them out, to look past that class of answers while it is being worked on.
GENERATE_NUL_AND_SURROGATES = True

SUPERGRAPH = Path(__file__).resolve().parents[2] / "schema" / "supergraph.graphql"
# Valid operations weigh double: they are the ones that reach the subgraphs.
KINDS = ("valid", "valid", "valid variables", "valid variables", "wrong variable", "invalid document",
         "mangled document", "garbage body")  # fmt: skip
ROLES = ("anonymous", "customer", "admin", "admin")  # admin twice: mutations get past authorization
ACCEPTS = ("application/graphql-response+json", "application/json", "*/*", None)
# A code in any framing (JSON, a batch, multipart parts): what the answer must never carry.
INTERNAL = re.compile(rb'"code"\s*:\s*"INTERNAL"')


def api_schema() -> graphql.GraphQLSchema:
    """The router's API schema, built the way the router builds it from the committed supergraph."""
    _supergraph, document, names = load_supergraph(SUPERGRAPH.read_text())
    return build_api_schema(document, names)


def characters() -> st.SearchStrategy[str]:
    if GENERATE_NUL_AND_SURROGATES:
        return st.characters(codec=None)
    return st.characters(min_codepoint=1, blacklist_categories=("Cs",))


def text(max_size: int = 40) -> st.SearchStrategy[str]:
    return st.text(characters(), max_size=max_size)


@dataclasses.dataclass(frozen=True)
class FuzzCase:
    """One request: how it was made (`kind`), who sends it, and what goes on the wire."""

    kind: str
    role: str
    method: str = "POST"
    body: bytes = b""
    params: tuple[tuple[str, str], ...] = ()
    content_type: str = "application/json"
    accept: str | None = None

    def describe(self) -> str:
        sent = self.body.decode("utf-8", "backslashreplace") if self.body else repr(self.params)
        return f"{self.kind} as {self.role}: {self.method} accept={self.accept} {sent[:2000]}"


@dataclasses.dataclass(frozen=True)
class Answer:
    status: int | None
    body: bytes
    seconds: float

    def failure(self) -> str | None:
        """What is wrong with this answer (`5xx`, `INTERNAL`, `no answer`), or None."""
        if self.status is None:
            return "no answer"
        if self.status >= 500:
            return f"HTTP {self.status}"
        if INTERNAL.search(self.body):
            return "INTERNAL"
        return None

    def executed(self) -> bool:
        """Whether the operation got past the router's checks to execution (a `data` entry, null or not): the
        subgraphs saw it, where a request error (unparsable, invalid, wrong variables) has no `data`."""
        try:
            body = json.loads(self.body)
        except ValueError:
            return False
        return isinstance(body, dict) and "data" in body

    def has_data(self) -> bool:
        """Whether some root field came back non-null."""
        try:
            body = json.loads(self.body)
        except ValueError:
            return False
        if not isinstance(body, dict) or not isinstance(body.get("data"), dict):
            return False
        return any(value is not None for value in body["data"].values())


def json_body(payload: Any) -> bytes:
    # json, not orjson: it writes a lone surrogate as an escape where orjson refuses the string.
    return json.dumps(payload).encode()


# --- operations from the schema ---------------------------------------------------------------------------


# Strings that mean something to the shop (a good email, a payment token of the sandbox, a currency) or to
# what lies under it (SQL's wildcards and quotes, full-text search's operators, long and odd Unicode).
MEANINGFUL = ("", " ", "a", "buyer@example.com", "correct horse battery", "tok_approve", "tok_decline", "USD",
              "EUR", "Kitchen", "SKU-1", "x" * 300, "%", "_", "'", "\\", "' OR 1=1 --", "a & b | !c", "a:*",
              "<script>", "\u202e", "\ufeff", "\U0001f600" * 20, "\t\n\r", "0", "-1", "1e309",
              "null", "{}")  # fmt: skip
# What PostgreSQL refuses in text (issue 13, item 4): generated only once the switch above is on.
REFUSED_BY_POSTGRESQL = ("a\x00b", "\x00", "\ud800", "x\udfff")


def strings() -> st.SearchStrategy[str]:
    if GENERATE_NUL_AND_SURROGATES:
        return text() | st.sampled_from(MEANINGFUL) | st.sampled_from(REFUSED_BY_POSTGRESQL)
    return text() | st.sampled_from(MEANINGFUL)


def scalars(ids: list[str]) -> dict[str, st.SearchStrategy[graphql.ValueNode]]:
    """`String`s random or meaningful, `ID`s mostly ones that exist (so mutations reach their rows),
    `DateTime`s mostly well formed."""
    known = st.sampled_from(ids) if ids else st.nothing()
    datetimes = st.datetimes(timezones=st.just(UTC)).map(datetime.isoformat)

    def node(value: str) -> graphql.ValueNode:
        return graphql.StringValueNode(value=value)

    return {
        "String": strings().map(node),
        "ID": st.one_of(known, known, strings(), st.uuids().map(str)).map(node)
        | st.integers(-(2**31), 2**31 - 1).map(lambda v: graphql.IntValueNode(value=str(v))),
        "DateTime": st.one_of(datetimes, datetimes, strings()).map(node),
        # A JSON request cannot carry a file: whatever stands in for one must be refused with a code.
        "Upload": strings().map(node),
    }


def documents(
    schema: graphql.GraphQLSchema, ids: list[str], mode: Mode = Mode.POSITIVE
) -> st.SearchStrategy[str]:
    """Operations of one root field mostly (each field as likely as another, and an operation whose one field
    fails no longer hides the others' data), sometimes of many."""
    options = {
        "custom_scalars": scalars(ids),
        "allow_x00": GENERATE_NUL_AND_SURROGATES,
        "codec": None if GENERATE_NUL_AND_SURROGATES else "utf-8",
        "mode": mode,
    }
    roots = [
        name
        for root in (schema.query_type, schema.mutation_type)
        for name, field in (root.fields if root else {}).items()
        # A violation needs an argument to put it in (hypothesis-graphql refuses a field without one).
        if mode is Mode.POSITIVE or any(violable(argument.type) for argument in field.args.values())
    ]
    # One strategy per field, built here once: built per draw it would cost more than the request it makes.
    one_field = st.one_of([from_schema(schema, fields=[name], **options) for name in roots])
    return st.one_of(one_field, one_field, one_field, from_schema(schema, **options))


def violable(type_: graphql.GraphQLInputType) -> bool:
    named = graphql.get_named_type(type_)
    return graphql.is_non_null_type(type_) or named.name in ("Int", "Float", "String", "Boolean", "ID")


def hoist_arguments(document: str, schema: graphql.GraphQLSchema) -> tuple[str, dict[str, Any]]:
    """The same operation with every literal argument moved into a variable of the argument's type."""
    ast = graphql.parse(document)
    type_info = graphql.TypeInfo(schema)
    definitions: list[graphql.VariableDefinitionNode] = []
    variables: dict[str, Any] = {}

    class Hoist(graphql.Visitor):
        def enter_argument(self, node: graphql.ArgumentNode, *_: Any) -> Any:
            argument = type_info.get_argument()
            if argument is None or isinstance(node.value, graphql.VariableNode):
                return None
            name = graphql.NameNode(value=f"v{len(variables)}")
            variables[name.value] = graphql.value_from_ast_untyped(node.value)
            definitions.append(
                graphql.VariableDefinitionNode(
                    variable=graphql.VariableNode(name=name),
                    type=graphql.parse_type(str(argument.type)),
                    directives=(),
                )
            )
            return graphql.ArgumentNode(name=node.name, value=graphql.VariableNode(name=name))

    visited = graphql.visit(ast, graphql.TypeInfoVisitor(type_info, Hoist()))
    # The AST's nodes are frozen dataclasses: a new operation node with the definitions.
    operation = dataclasses.replace(visited.definitions[0], variable_definitions=tuple(definitions))
    return graphql.print_ast(graphql.DocumentNode(definitions=(operation,))), variables


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(text(8), children, max_size=4),
    max_leaves=12,
)
# What a wrong variable is: another JSON type, an out-of-range number, an odd string.
wrong_values = st.one_of(
    json_values,
    st.sampled_from([2**31, -(2**31) - 1, 2**63, 1e308, 1.5, "", "1" * 400, [], {}, None, True]),
)

# Pieces a mangled document gains: punctuation, keywords, and constructs the router bounds.
MANGLES = ("{", "}", "(", ")", "[", "]", "$", "$v0", "...", "@", "@skip", ":", "!", "=", '"', '"""', "\\u",
           "#", "\n", "query", "mutation", "subscription", "fragment F on Query { ...F }", "...F",
           "__schema { types { name } }", "__typename", "on", "null", "1e999", "-0", "__type(name: 1)",
           "@defer", "@include(if: $x)", "a: b", "&", "|")  # fmt: skip


Edit = tuple[float, str, int, str]
edits: st.SearchStrategy[list[Edit]] = st.lists(
    st.tuples(
        st.floats(0, 1),
        st.sampled_from(("delete", "insert", "insert", "repeat", "cut")),
        st.integers(1, 12),
        st.sampled_from(MANGLES) | text(6),
    ),
    min_size=1,
    max_size=3,
)


def mangle(document: str, changes: list[Edit]) -> str:
    """`document` with a few edits: a span deleted, a piece inserted, a span repeated, the rest cut."""
    for where, edit, size, piece in changes:
        at = round(where * len(document))
        if edit == "delete":
            document = document[:at] + document[at + size :]
        elif edit == "insert":
            document = f"{document[:at]}{piece}{document[at:]}"
        elif edit == "repeat":
            document = document[:at] + document[at : at + 40] * size + document[at:]
        else:
            document = document[:at]
    return document


def fuzz_cases(schema: graphql.GraphQLSchema, ids: list[str]) -> st.SearchStrategy[FuzzCase]:
    """Requests of every kind; `ids` are identifiers of rows that exist (products, users, orders)."""
    # Built once: a strategy built per draw would cost more than the request it makes.
    valid, invalid = documents(schema, ids, Mode.POSITIVE), documents(schema, ids, Mode.NEGATIVE)
    bodies = garbage(schema, valid)

    @st.composite
    def one(draw: st.DrawFn) -> FuzzCase:
        kind = draw(st.sampled_from(KINDS))
        role, accept = draw(st.sampled_from(ROLES)), draw(st.sampled_from(ACCEPTS))
        if kind == "garbage body":
            return dataclasses.replace(draw(bodies), role=role, accept=accept)
        payload: dict[str, Any] = {"query": draw(invalid if kind == "invalid document" else valid)}
        if kind in ("valid variables", "wrong variable"):
            try:
                payload["query"], payload["variables"] = hoist_arguments(payload["query"], schema)
            except graphql.GraphQLError:
                pass  # a lone surrogate printed into the document: graphql-core cannot parse it back
            if kind == "wrong variable" and "variables" in payload:
                names = sorted(payload["variables"]) or ["undeclared"]
                payload["variables"][draw(st.sampled_from(names))] = draw(wrong_values)
        elif kind == "mangled document":
            payload["query"] = mangle(payload["query"], draw(edits))
        return FuzzCase(kind, role, body=json_body(payload), accept=accept)

    return one()


def garbage(schema: graphql.GraphQLSchema, valid: st.SearchStrategy[str]) -> st.SearchStrategy[FuzzCase]:
    """Bodies that are no GraphQL request: bytes, any JSON, a request with fields of the wrong type, a batch,
    a GET with odd parameters."""
    keys = st.sampled_from(("query", "variables", "operationName", "extensions"))
    queries = st.sampled_from(("{ __typename }", "{ me { id } }")) | valid
    raw = st.binary(max_size=200).map(lambda body: FuzzCase("garbage body", "", body=body))
    any_json = json_values.map(lambda value: FuzzCase("garbage body", "", body=json_body(value)))
    values = st.one_of(text(), valid, json_values.map(json.dumps))
    params = st.lists(st.tuples(keys | text(8), values), max_size=4)
    get = params.map(lambda pairs: FuzzCase("garbage body", "", method="GET", params=tuple(pairs)))

    @st.composite
    def fields(draw: st.DrawFn) -> FuzzCase:
        request: dict[str, Any] = {"query": draw(queries)}
        for key in draw(st.lists(keys, max_size=3)):
            request[key] = draw(json_values)
        batch = draw(st.booleans())
        body = draw(st.lists(st.just(request) | json_values, max_size=3)) if batch else request
        return FuzzCase("garbage body", "", body=json_body(body))

    return st.one_of(raw, any_json, get, fields(), fields())


# --- sending ----------------------------------------------------------------------------------------------


def send(client: httpx.Client, url: str, case: FuzzCase, token: str | None) -> Answer:
    """`case` sent to the router at `url` (its /graphql), with `token` as the bearer when given."""
    headers = {"content-type": case.content_type}
    if case.accept is not None:
        headers["accept"] = case.accept
    if token is not None:
        headers["authorization"] = f"Bearer {token}"
    try:
        if case.method == "GET":
            # Encoded here, not by httpx: a lone surrogate goes out as the bytes an attacker would send.
            query = urllib.parse.urlencode(case.params, encoding="utf-8", errors="surrogatepass")
            response = client.get(f"{url}?{query}", headers=headers)
        else:
            response = client.post(url, content=case.body, headers=headers)
    except httpx.HTTPError:
        return Answer(None, b"", 0.0)
    return Answer(response.status_code, response.content, response.elapsed.total_seconds())


def healthy(client: httpx.Client, base_url: str) -> bool:
    """The router still answers its liveness check and a trivial query."""
    health = client.get(f"{base_url}/health")
    answer = client.post(f"{base_url}/graphql", json={"query": "{ __typename }"})
    return health.status_code == 200 and answer.json() == {"data": {"__typename": "Query"}}
