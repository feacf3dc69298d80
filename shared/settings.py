"""Settings every MyShop process reads from the environment (pydantic-settings).

Common settings have fixed names (`MYSHOP_REDIS_URL`, ...); each service subclasses `ServiceSettings`
with its own prefix (`MYSHOP_USERS_PORT`, `MYSHOP_USERS_DATABASE_URL`, ...), so any service can move to
its own database server without touching the others.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import AliasChoices, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import make_url

from shared.client_address import trusted_entries

Environment = Literal["development", "test", "production"]

# Default ports of every process (ARCHITECTURE.md, "Processes and ports").
DEFAULT_PORTS: dict[str, int] = {
    "router": 4000,
    "users": 4001,
    "products": 4002,
    "orders": 4003,
    "payments": 4004,
    "inventory": 4005,
    "notifications": 4006,
    "analytics": 4007,
    "shipping": 4008,
}


# Fit for a laptop only: a production start refuses it (shared.app.check_settings).
DEV_SERVICE_SECRET = "dev-service-secret-changethis"


def _env(name: str) -> AliasChoices:
    return AliasChoices(name)


def service_config(service: str) -> SettingsConfigDict:
    """The pydantic-settings config of one service: its own fields read `MYSHOP_<SERVICE>_*`."""
    return SettingsConfigDict(
        env_prefix=f"MYSHOP_{service.upper()}_",
        env_file=".env",
        extra="ignore",
        populate_by_name=True,
    )


class ServiceSettings(BaseSettings):
    """Settings shared by all services plus the per-service ones (host, port, database)."""

    model_config = service_config("service")
    service_name: ClassVar[str] = "service"

    # --- common to every process (fixed environment names) ---
    environment: Environment = Field("development", validation_alias=_env("MYSHOP_ENV"))
    data_dir: Path = Field(Path(".myshop"), validation_alias=_env("MYSHOP_DATA_DIR"))
    log_level: str = Field("INFO", validation_alias=_env("MYSHOP_LOG_LEVEL"))
    log_json: bool = Field(True, validation_alias=_env("MYSHOP_LOG_JSON"))
    # The PostgreSQL *server*; each service's database on it is `<database_prefix><service>`.
    postgres_url: str = Field(
        "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres", validation_alias=_env("MYSHOP_POSTGRES_URL")
    )
    database_prefix: str = Field("myshop_", validation_alias=_env("MYSHOP_DATABASE_PREFIX"))
    # --- the connection budget (shared.connection_budget has the arithmetic) ---
    # 10 a process, kept open: eight services fit PostgreSQL's default 100 with its reserves. The pool
    # opens them as load asks and keeps them. Overflow connections are closed as they come back, so a
    # load that goes past the pool opens one for almost every request: 5 + 5 opened 0.36 connections per
    # order at 10 clients in bench/place_order.py, and 10 + 0 kept the same budget at 0.02; placeOrder ran
    # 48.2/s against 36.3/s, orders' CPU per order 7.7 ms against 9.2 (back to back, one run each).
    db_pool_size: int = Field(10, ge=1, validation_alias=_env("MYSHOP_DB_POOL_SIZE"))
    # Connections opened past the pool for a burst, each closed when it comes back.
    db_max_overflow: int = Field(0, ge=0, validation_alias=_env("MYSHOP_DB_MAX_OVERFLOW"))
    # How many processes of this service share its database server (replicas of a Deployment).
    db_replicas: int = Field(1, ge=1, validation_alias=_env("MYSHOP_DB_REPLICAS"))
    # How many services share the server (each process's share of it is the budget divided by this); all of
    # them by default, as `myshop up` and docker-compose run them.
    db_services_on_server: int = Field(
        len(DEFAULT_PORTS) - 1, ge=1, validation_alias=_env("MYSHOP_DB_SERVICES_ON_SERVER")
    )
    # The server's connection limit to budget against; unset, the server is asked (`max_connections` minus
    # `superuser_reserved_connections`) at start.
    db_connection_limit: int | None = Field(None, ge=1, validation_alias=_env("MYSHOP_DB_CONNECTION_LIMIT"))
    # Connections the budget leaves free for admins, migrations and the odd psql.
    db_reserve: int = Field(10, ge=0, validation_alias=_env("MYSHOP_DB_RESERVE"))
    # Connecting through PgBouncer in transaction mode: no prepared statement outlives its transaction, and
    # the budget is PgBouncer's pool (its `default_pool_size` per database), not this process's.
    db_pgbouncer: bool = Field(False, validation_alias=_env("MYSHOP_DB_PGBOUNCER"))
    redis_url: str = Field("redis://127.0.0.1:6379/0", validation_alias=_env("MYSHOP_REDIS_URL"))
    # A Redis Cluster: the URL names any one of its nodes, the client learns the others (shared.redis_client).
    redis_cluster: bool = Field(False, validation_alias=_env("MYSHOP_REDIS_CLUSTER"))
    # Every Redis key we write starts with this, so several deployments (or test runs) share a server.
    redis_prefix: str = Field("myshop:", validation_alias=_env("MYSHOP_REDIS_PREFIX"))

    # --- events (the outbox relay, shared.relay) ---
    # How long the relay waits when the outbox is empty; it publishes without pause while there is work.
    outbox_poll_interval: float = Field(
        0.2, gt=0, le=60, validation_alias=_env("MYSHOP_OUTBOX_POLL_INTERVAL")
    )
    outbox_batch_size: int = Field(200, ge=1, le=10_000, validation_alias=_env("MYSHOP_OUTBOX_BATCH_SIZE"))
    # Published outbox rows are kept this long (for inspection and replay), then deleted.
    outbox_retention_hours: int = Field(168, ge=1, validation_alias=_env("MYSHOP_OUTBOX_RETENTION_HOURS"))
    # Approximate cap on each event stream's length; 0 never trims, so a slow consumer group loses nothing.
    event_stream_maxlen: int = Field(0, ge=0, validation_alias=_env("MYSHOP_EVENT_STREAM_MAXLEN"))
    # Entries older than this leave each event stream (XTRIM MINID at each outbox prune); 0 keeps them.
    # Events carry personal data (a registration's address and name): a deleted account's is gone from Redis
    # within this time. A consumer group stopped for longer misses what was trimmed.
    event_stream_retention_hours: int = Field(
        168, ge=0, validation_alias=_env("MYSHOP_EVENT_STREAM_RETENTION_HOURS")
    )

    # --- event consumers (shared.consumer) ---
    # Messages read per XREADGROUP, and how long one waits for new messages when the streams are quiet.
    consumer_batch_size: int = Field(
        100, ge=1, le=10_000, validation_alias=_env("MYSHOP_CONSUMER_BATCH_SIZE")
    )
    consumer_block_ms: int = Field(1000, ge=1, le=60_000, validation_alias=_env("MYSHOP_CONSUMER_BLOCK_MS"))
    # A message pending this long with a consumer that stopped refreshing it (a dead process) is claimed.
    consumer_claim_idle_seconds: float = Field(
        30.0, gt=0, le=86_400, validation_alias=_env("MYSHOP_CONSUMER_CLAIM_IDLE_SECONDS")
    )
    # First retry delay of a failed event; it doubles per failure (capped at a minute).
    consumer_retry_base_seconds: float = Field(
        0.5, gt=0, le=3600, validation_alias=_env("MYSHOP_CONSUMER_RETRY_BASE_SECONDS")
    )

    # --- tokens (issued by users, validated everywhere) ---
    jwt_issuer: str = Field("https://myshop.local/users", validation_alias=_env("MYSHOP_JWT_ISSUER"))
    jwt_audience: str = Field("myshop", validation_alias=_env("MYSHOP_JWT_AUDIENCE"))
    # PEM of the current signing key (production); otherwise keys live in `<data_dir>/keys/*.pem`.
    jwt_private_key: str | None = Field(None, validation_alias=_env("MYSHOP_JWT_PRIVATE_KEY"))
    # PEM public keys of retired signing keys still accepted (key rotation), concatenated.
    jwt_retired_public_keys: str | None = Field(None, validation_alias=_env("MYSHOP_JWT_RETIRED_PUBLIC_KEYS"))
    # Where services other than users fetch the public keys; empty means "read the local key ring".
    jwks_url: str = Field(
        "http://127.0.0.1:4001/.well-known/jwks.json", validation_alias=_env("MYSHOP_JWKS_URL")
    )
    jwt_leeway_seconds: int = Field(10, validation_alias=_env("MYSHOP_JWT_LEEWAY_SECONDS"))
    # Services get SERVICE tokens from users with this shared secret (OAuth 2 client credentials at
    # `service_token_url`); an empty URL means "sign them with the local key ring" (tests, one machine).
    service_secret: str = Field(DEV_SERVICE_SECRET, validation_alias=_env("MYSHOP_SERVICE_SECRET"))
    service_token_url: str = Field(
        "http://127.0.0.1:4001/oauth/token", validation_alias=_env("MYSHOP_SERVICE_TOKEN_URL")
    )

    # --- client addresses (shared.client_address) ---
    # The routers (addresses or CIDR networks, comma-separated) whose `X-Forwarded-For` names the client: the
    # router always overwrites it with the address it computed. From any other peer the header is ignored and
    # the peer is the client, so a client calling a service directly cannot pick its rate-limit bucket.
    # Where the router runs on another host, name its address (or its pods' network) here.
    trusted_routers: Annotated[tuple[str, ...], NoDecode] = Field(
        ("127.0.0.1", "::1"), validation_alias=_env("MYSHOP_TRUSTED_ROUTERS")
    )

    # --- verified email (issue 14) ---
    # The actions (GraphQL mutation names, comma-separated) that refuse a user whose email is not verified
    # (the access token's `email_verified` claim). Unset: `placeOrder` in production, none elsewhere (the
    # demo and the tests order without reading mail); set it empty to require nothing in production.
    verified_email_required_for: Annotated[tuple[str, ...] | None, NoDecode] = Field(
        None, validation_alias=_env("MYSHOP_VERIFIED_EMAIL_REQUIRED_FOR")
    )

    # --- per service (MYSHOP_<SERVICE>_*) ---
    host: str = "127.0.0.1"
    port: int = 0
    database_url: str | None = None

    @field_validator("trusted_routers", mode="before")
    @classmethod
    def _routers(cls, value: Any) -> tuple[str, ...]:
        return trusted_entries(value)

    @field_validator("verified_email_required_for", mode="before")
    @classmethod
    def _actions(cls, value: Any) -> tuple[str, ...] | None:
        if value is None:
            return None
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return tuple(value)

    def requires_verified_email(self, action: str) -> bool:
        """Whether `action` refuses a principal whose email is not verified."""
        actions = self.verified_email_required_for
        if actions is None:
            actions = ("placeOrder",) if self.is_production else ()
        return action in actions

    @model_validator(mode="after")
    def _default_port(self) -> ServiceSettings:
        if self.port == 0:
            self.port = DEFAULT_PORTS.get(self.service_name, 0)
        return self

    @property
    def effective_database_url(self) -> str:
        """This service's own database: explicit URL, or its database on the shared server."""
        if self.database_url:
            return self.database_url
        return self.database_url_on_server(self.database_name)

    @property
    def database_name(self) -> str:
        if self.database_url:
            return make_url(self.database_url).database or ""
        return f"{self.database_prefix}{self.service_name}"

    def database_url_on_server(self, database: str) -> str:
        return make_url(self.postgres_url).set(database=database).render_as_string(hide_password=False)

    @property
    def db_extra_connections(self) -> int:
        """Connections this process may open on its database server beyond its main engine's pool (a service
        with a second pooled engine on the same server says so)."""
        return 0

    def on_same_server(self, database_url: str) -> bool:
        """Whether `database_url` is on the server of this service's own database (same host and port)."""
        ours, theirs = make_url(self.effective_database_url), make_url(database_url)
        return (ours.host, ours.port or 5432, ours.query.get("host")) == (
            theirs.host,
            theirs.port or 5432,
            theirs.query.get("host"),
        )

    @property
    def keys_dir(self) -> Path:
        return self.data_dir / "keys"

    @property
    def is_production(self) -> bool:
        return self.environment == "production"
