"""The router's settings: listen address, request limits and subgraph URL overrides.

Read from an optional YAML file, then the environment (`MYSHOP_ROUTER_*`), then explicit arguments (the
command line), each overriding the one before.
"""

from __future__ import annotations

import contextvars
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import yaml
from pydantic import AliasChoices, Field, PrivateAttr, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from router.execution.entity_cache import EntityCacheConfig
from router.ops.access import OpsConfig
from router.ops.compression import CompressionConfig
from router.ops.read_timeouts import ClientTimeoutsConfig
from router.pipeline.authorization import AuthorizationConfig
from router.pipeline.batch import BatchingConfig
from router.pipeline.cost import DemandControlConfig
from router.pipeline.edge.cors import CorsConfig
from router.pipeline.edge.csrf import CsrfConfig
from router.pipeline.edge.persisted import PersistedQueriesConfig
from router.pipeline.edge.rate_limit import RateLimitConfig
from router.pipeline.introspection import IntrospectionConfig
from router.plugins import PluginChain, PluginLoadError, PluginSpec, load_plugins
from router.supergraph.overrides import OverrideLabelsConfig
from router.upstream.headers import HeadersConfig
from router.upstream.media import MediaConfig
from router.upstream.traffic_config import TrafficConfig
from router.upstream.uploads import UploadsConfig
from shared.client_address import trusted_entries

if TYPE_CHECKING:
    from router.pipeline.document import RouterLimits

REPO_ROOT = Path(__file__).resolve().parent.parent

# The YAML file's values while `RouterConfig.load` builds a config (a settings source cannot take arguments).
_yaml_values: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "router_yaml", default=None
)


class ConfigError(ValueError):
    """The configuration file is missing, unreadable or not what we expect."""


class RouterConfig(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="MYSHOP_ROUTER_",
        env_file=".env",
        extra="ignore",
        populate_by_name=True,
        env_nested_delimiter="__",
    )

    host: str = "127.0.0.1"
    port: int = Field(4000, ge=0, le=65535)
    # Processes serving host:port, each with its own event loop on its own SO_REUSEPORT socket (the kernel
    # spreads connections over them): one per core the router may use (router/ops/workers.py).
    workers: int = Field(1, ge=1, le=256)
    # A request body (or WebSocket message) past this answers 413 (PAYLOAD_TOO_LARGE) before it is parsed
    # (2 MiB).
    max_body_bytes: int = Field(2 * 1024 * 1024, ge=1)
    max_depth: int = Field(100, ge=1)
    max_aliases: int = Field(1000, ge=1)
    # Apollo Router's operation limits, counted with fragments expanded but without expanding them
    # (router/pipeline/bound.py): root fields, and fields in all (height); the pairs of same-named fields
    # and fragments graphql-core's overlap check would compare (quadratic, so bounded before it runs).
    max_root_fields: int = Field(100, ge=1)
    max_height: int = Field(1000, ge=1)
    max_field_merges: int = Field(5000, ge=1)
    # Worker threads that parse, validate and plan operations not seen before, off the event loop
    # (router/pipeline/document.py's ColdWork); 0: on the loop.
    planning_threads: int = Field(1, ge=0)
    max_tokens: int = Field(15000, ge=1)
    plan_cache_size: int = Field(1000, ge=0)
    # Subgraph name -> URL, replacing the URLs composed into the supergraph (another host, compose services).
    # In the environment: `users=http://users:4001/graphql,products=http://products:4002/graphql` or JSON.
    subgraph_urls: Annotated[dict[str, str], NoDecode] = Field(default_factory=dict)
    # `/health/ready` gives each subgraph this long to answer `{ __typename }`.
    ready_timeout_seconds: float = Field(2.0, gt=0)
    # When `/health/ready` says ready: `all` subgraphs answer (one process, `myshop up`), or `any` of them
    # does (replicas behind a load balancer, Kubernetes: one subgraph down must not take every router out of
    # rotation, since the router answers the rest with partial data; every subgraph down still does). The
    # detailed report names each subgraph either way.
    ready_when: Literal["all", "any"] = "all"
    # Subscriptions (WebSocket graphql-transport-ws and SSE): at most this many at once on one connection; a
    # client whose unsent events pass `subscription_send_buffer` frames is too slow and is disconnected.
    max_subscriptions_per_connection: int = Field(100, ge=1)
    subscription_send_buffer: int = Field(1024, ge=1)
    # A WebSocket that has not sent `connection_init` this long after connecting is closed (4408).
    ws_init_timeout_seconds: float = Field(10.0, gt=0)
    # SSE streams send a comment this often so proxies keep an idle stream open.
    sse_keepalive_seconds: float = Field(15.0, gt=0)
    # Multipart HTTP subscriptions (`Accept: multipart/mixed;subscriptionSpec=1.0`) send a heartbeat part `{}`
    # this often (router/http/multipart_subscriptions.py).
    multipart_heartbeat_seconds: float = Field(5.0, gt=0)
    # Clients of the same subscription (subgraph, operation, variables and the headers the subgraphs get)
    # share one subscription on the subgraph (router/execution/shared_subscriptions.py); false: one each
    # (off too while a plugin hooks subgraph requests: it must see each connection).
    subscription_dedup: bool = True
    # GraphiQL at `GET /graphql` for browsers. Its assets: the copy built into the package (a wheel), else
    # this `node_modules` (a dev checkout, `npm ci`; router/http/graphiql asset_files).
    graphiql: bool = True
    node_modules: Path = REPO_ROOT / "node_modules"

    # Edge authentication: with users' JWKS URL set, a request's bearer token is verified before any subgraph
    # is called (router/pipeline/edge/auth.py); empty turns it off (anonymous and tokens pass to the
    # subgraphs).
    jwks_url: str = ""
    jwt_issuer: str = Field("https://myshop.local/users", validation_alias=AliasChoices("MYSHOP_JWT_ISSUER"))
    jwt_audience: str = Field("myshop", validation_alias=AliasChoices("MYSHOP_JWT_AUDIENCE"))
    jwt_leeway_seconds: int = Field(10, validation_alias=AliasChoices("MYSHOP_JWT_LEEWAY_SECONDS"))
    # A token with a kid the router has not seen refetches the JWKS (a rotated key), at most this often:
    # short, so a new key works within seconds; not zero, so forged kids cannot make every request a fetch.
    jwks_refresh_seconds: float = Field(5.0, ge=0)

    # Traffic shaping (router/upstream/resilient.py): subgraph timeouts, breakers, retries, deduplication,
    # the request timeout; and the per-client rate limit (router/pipeline/edge/rate_limit.py). In the
    # environment as JSON (`MYSHOP_ROUTER_TRAFFIC='{"request_timeout": "30s"}'`) or one field at a time
    # (`MYSHOP_ROUTER_RATE_LIMIT__ENABLED=true`).
    traffic: TrafficConfig = TrafficConfig()
    rate_limit: RateLimitConfig = RateLimitConfig()
    # The optional entity cache in Redis (router/execution/entity_cache.py), off unless `enabled`: per
    # subgraph and type TTLs,
    # e.g. `entity_cache: {enabled: true, subgraphs: {products: {types: {Product: 60s}}}}`.
    entity_cache: EntityCacheConfig = EntityCacheConfig()
    # Demand control (router/pipeline/cost.py): operations priced from @cost/@listSize; in `enforce` mode one
    # estimated over `max` is refused (COST_ESTIMATED_TOO_EXPENSIVE) before any subgraph is asked,
    # e.g. `demand_control: {enabled: true, mode: enforce, max: 10000, list_size: 10}`.
    demand_control: DemandControlConfig = DemandControlConfig()
    # Progressive override (router/supergraph/overrides.py): the custom `@override(label:)` labels always
    # active, e.g. `override_labels: [beta]`, or `{active: [...], header: x-override-labels, from_header:
    # [beta]}` for labels a request may turn on itself. `percent(N)` labels are drawn per request.
    override_labels: OverrideLabelsConfig = OverrideLabelsConfig()

    # Which client headers each subgraph gets (router/upstream/headers.py); none configured: every
    # end-to-end header.
    headers: HeadersConfig = HeadersConfig()
    # The proxies in front of the router (load balancers; addresses or CIDR networks) whose `X-Forwarded-For`
    # names the client (router/http/client_address.py). Empty: the TCP peer is the client, whatever it sends.
    # In the environment comma-separated: `MYSHOP_ROUTER_TRUSTED_PROXIES=10.0.0.0/8,192.0.2.7`.
    trusted_proxies: Annotated[tuple[str, ...], NoDecode] = ()
    # APQ and safelist mode (router/pipeline/edge/persisted.py),
    # e.g. `MYSHOP_ROUTER_PERSISTED_QUERIES__SAFELIST=ops.json`.
    persisted_queries: PersistedQueriesConfig = PersistedQueriesConfig()
    # `myshop router --supergraph F` polls F this often and swaps in a changed supergraph
    # (router/ops/reload.py).
    hot_reload: bool = True
    hot_reload_interval_seconds: float = Field(1.0, gt=0)

    # The HTTP edge. CSRF prevention (router/pipeline/edge/csrf.py): on; requests a browser can send
    # cross-site without a preflight are refused. CORS (router/pipeline/edge/cors.py): the browser origins
    # allowed beside the router's own, e.g. `cors: {origins: [https://shop.example.com]}`.
    csrf: CsrfConfig = CsrfConfig()
    cors: CorsConfig = CorsConfig()
    # `__schema`/`__type` answered (router/pipeline/introspection.py); by default not in production.
    introspection: IntrospectionConfig = IntrospectionConfig()
    # gzip answers past 1 KiB for clients that accept it (router/ops/compression.py).
    compression: CompressionConfig = CompressionConfig()
    # Query batching (router/http/batching.py): a POST of a JSON array of requests, answered in order; off
    # unless enabled, e.g. `batching: {enabled: true, max_size: 10}`.
    batching: BatchingConfig = BatchingConfig()
    # A client sending its headers or body too slowly is closed (router/ops/read_timeouts.py).
    client_timeouts: ClientTimeoutsConfig = ClientTimeoutsConfig()
    # `ops.token` opens `/metrics` and the detailed `/health/ready` (router/ops/access.py); unset: neither.
    ops: OpsConfig = OpsConfig()
    # The authorization directives (router/pipeline/authorization.py): `@authenticated`, `@requiresScopes`,
    # `@policy` enforced at the edge when edge auth is on (`jwks_url`), e.g.
    # `authorization: {policies: {owner: mypackage.policies:owner}, reject_unauthorized: false}`.
    authorization: AuthorizationConfig = AuthorizationConfig()
    # Python plugins (router/plugins/, README "Plugins"), their hooks run in this order:
    # `plugins: [{module: "examples.plugins.audit_log:AuditLog", config: {...}}]`. Built once, at start
    # (`load`); one that cannot be imported or built is a ConfigError.
    plugins: list[PluginSpec] = Field(default_factory=list)
    _plugin_chain: PluginChain | None = PrivateAttr(None)
    # File uploads (the GraphQL multipart request spec; router/http/uploads.py): off unless enabled; each file
    # streams to its subgraph, within `max_file_size`, `max_files` and `max_request_size` (bytes),
    # e.g. `uploads: {enabled: true, max_file_size: 10485760, max_files: 5}`.
    uploads: UploadsConfig = UploadsConfig()
    # `GET`/`HEAD /media/*` passed through to the subgraph serving product images (router/http/media.py),
    # e.g. `media: {enabled: true, subgraph: products}`; off unless enabled.
    media: MediaConfig = MediaConfig()

    # Common to every MyShop process.
    environment: str = Field("development", validation_alias=AliasChoices("MYSHOP_ENV"))
    log_level: str = Field("INFO", validation_alias=AliasChoices("MYSHOP_LOG_LEVEL"))
    log_json: bool = Field(True, validation_alias=AliasChoices("MYSHOP_LOG_JSON"))

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _parse_trusted_proxies(cls, value: Any) -> tuple[str, ...]:
        return trusted_entries(value)

    @field_validator("subgraph_urls", mode="before")
    @classmethod
    def _parse_subgraph_urls(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        text = value.strip()
        if not text:
            return {}
        if text.startswith("{"):
            return yaml.safe_load(text)  # JSON is YAML
        urls: dict[str, str] = {}
        for item in text.split(","):
            name, sep, url = item.partition("=")
            if not sep or not name.strip() or not url.strip():
                raise ValueError(f"expected name=url, got {item.strip()!r}")
            urls[name.strip()] = url.strip()
        return urls

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, env_settings, dotenv_settings, _YamlSource(settings_cls)

    @classmethod
    def load(cls, path: Path | str | None = None, **overrides: Any) -> RouterConfig:
        """The config from `path` (YAML, optional), the environment, and `overrides` (None values ignored)."""
        values = read_yaml(Path(path)) if path is not None else {}
        token = _yaml_values.set(values)
        try:
            config = cls(**{key: value for key, value in overrides.items() if value is not None})
        finally:
            _yaml_values.reset(token)
        config.plugin_chain()  # a plugin that cannot load fails the start here, not at the first request
        return config

    def plugin_chain(self) -> PluginChain | None:
        """The plugins, built on first use and then shared (the pipeline, every gateway a hot reload
        builds); None without any. ConfigError naming a plugin that cannot be imported or built."""
        if self._plugin_chain is None and self.plugins:
            try:
                self._plugin_chain = load_plugins(self.plugins)
            except PluginLoadError as exc:
                raise ConfigError(f"router config: {exc}") from exc
        return self._plugin_chain

    def limits(self) -> RouterLimits:
        from router.pipeline.document import RouterLimits

        return RouterLimits(
            max_depth=self.max_depth,
            max_aliases=self.max_aliases,
            max_root_fields=self.max_root_fields,
            max_height=self.max_height,
            max_field_merges=self.max_field_merges,
            planning_threads=self.planning_threads,
            max_tokens=self.max_tokens,
            plan_cache_size=self.plan_cache_size,
        )


def read_yaml(path: Path) -> dict[str, Any]:
    """A router YAML file as flat field values; `limits:` and `listen:` may group their fields.

    ```yaml
    listen: {host: 0.0.0.0, port: 4000}
    limits: {max_body_bytes: 2097152, max_depth: 100, max_aliases: 1000, max_root_fields: 100,
             max_height: 1000, max_field_merges: 5000, max_tokens: 15000}
    subgraph_urls: {users: http://users:4001/graphql}
    ```
    """
    try:
        loaded = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read router config {path}: {exc}") from exc
    if not isinstance(loaded, dict):
        raise ConfigError(f"router config {path}: expected a mapping at the top level")
    values: dict[str, Any] = {}
    for key, value in loaded.items():
        if key in ("limits", "listen") and isinstance(value, dict):
            values.update(value)
        else:
            values[key] = value
    unknown = sorted(set(values) - set(RouterConfig.model_fields))
    if unknown:
        raise ConfigError(f"router config {path}: unknown keys {', '.join(unknown)}")
    return values


class _YamlSource(PydanticBaseSettingsSource):
    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return (_yaml_values.get() or {}).get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(_yaml_values.get() or {})
