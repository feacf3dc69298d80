"""Async SQLAlchemy 2 on asyncpg: the engine, the session factory and the declarative base of a service."""

from __future__ import annotations

import asyncio
import functools
import re
import select
import time
import uuid
from collections import namedtuple
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from datetime import timedelta
from typing import Any

import asyncpg
import orjson
from sqlalchemy import ARRAY, Executable, Interval, MetaData, Select, any_, bindparam, event, literal
from sqlalchemy import inspect as sa_inspect
from sqlalchemy import select as sa_select
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.util import greenlet_spawn

# Stable constraint and index names, so Alembic migrations never depend on the database's own naming.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# A pooled connection idle longer than this gets a real round trip at checkout (see `check_checkouts`).
PING_AFTER_IDLE_SECONDS = 10.0


def new_metadata() -> MetaData:
    """Each service owns its database, so each declarative base gets its own MetaData."""
    return MetaData(naming_convention=NAMING_CONVENTION)


class ModelBase(DeclarativeBase):
    """Abstract root of every service's models.

    A service declares `class Base(ModelBase): __abstract__ = True; metadata = new_metadata()`.
    """

    __abstract__ = True


def create_engine(
    database_url: str,
    *,
    pool_size: int = 10,
    max_overflow: int = 0,
    application_name: str = "myshop",
    pgbouncer: bool = False,
    ping_after_idle: float = PING_AFTER_IDLE_SECONDS,
) -> AsyncEngine:
    """A pooled engine: at most `pool_size + max_overflow` connections (shared.connection_budget counts them).
    `pgbouncer`: the URL is a PgBouncer in transaction mode (`pgbouncer_safe`). A connection the server closed
    is never handed out (`check_checkouts`, instead of SQLAlchemy's pre-ping: three round trips per
    checkout on asyncpg, BEGIN, `;`, ROLLBACK, a third of a search's time in bench/products_search.py)."""
    connect_args: dict[str, Any] = {"server_settings": {"application_name": application_name}}
    if pgbouncer:
        connect_args.update(pgbouncer_safe())
    engine = create_async_engine(
        database_url,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_pre_ping=False,
        # A server restart must not leave the pool with dead connections for long.
        pool_recycle=1800,
        connect_args=connect_args,
        # A failed statement's error (logged as INTERNAL) must never carry the request's values: emails,
        # password hashes, tokens. The statement itself (placeholders only) stays for the reader.
        hide_parameters=True,
        # JSON and JSONB columns read by orjson, not the standard library's json: a page of 20 orders decodes
        # about a hundred (addresses, discounts, tax lines), 8% of its CPU with json.loads. They differ only
        # on integers beyond 64 bits (orjson makes them floats), which nothing we store holds: amounts are
        # BigInteger-sized.
        json_deserializer=orjson.loads,
    )
    check_checkouts(engine, ping_after_idle=ping_after_idle)
    return engine


def check_checkouts(engine: AsyncEngine, *, ping_after_idle: float) -> None:
    """What pre-ping guaranteed, cheaper: a pooled connection whose server end is gone is discarded at
    checkout (the pool then hands out another, or a new one). Every checkout looks at the socket without a
    round trip (closed, or readable while idle: a terminated backend's last words or its EOF); only a
    connection idle past `ping_after_idle` seconds, or whose socket says something, is pinged for real (in
    a transaction, as SQLAlchemy's ping does: safe through PgBouncer in transaction mode)."""

    @event.listens_for(engine.sync_engine, "checkin")
    def checked_in(dbapi_connection: Any, record: Any) -> None:
        if dbapi_connection is not None:
            record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def checked_out(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        idle_since = record.info.pop("idle_since", None)
        if idle_since is None:  # a connection just opened
            return
        state = _socket_state(dbapi_connection)
        if state == "closed":
            raise DisconnectionError("the connection was closed while pooled")
        if state == "quiet" and time.monotonic() - idle_since <= ping_after_idle:
            return
        try:
            dbapi_connection.ping()
        except Exception as exc:
            raise DisconnectionError(f"the pooled connection failed its ping: {type(exc).__name__}") from exc


def _socket_state(dbapi_connection: Any) -> str:
    """ "closed", "readable" (an idle PostgreSQL connection has nothing to say: EOF or an error is pending),
    "quiet", or "unknown" (not an asyncpg connection: ping it)."""
    driver = getattr(dbapi_connection, "driver_connection", None)
    is_closed = getattr(driver, "is_closed", None)
    if is_closed is None:
        return "unknown"
    if is_closed():
        return "closed"
    transport = getattr(driver, "_transport", None)
    sock = transport.get_extra_info("socket") if transport is not None else None
    if sock is None:
        return "unknown"
    poller = select.poll()
    poller.register(sock.fileno(), select.POLLIN | select.POLLPRI)
    return "readable" if poller.poll(0) else "quiet"


def pgbouncer_safe() -> dict[str, Any]:
    """asyncpg's `connect_args` for PgBouncer in transaction mode, where consecutive transactions of one
    client run on different server connections. A named prepared statement lives on the server connection that
    prepared it, so: no statement cache in asyncpg nor in SQLAlchemy's adapter (a cached statement would be
    looked up on a connection that never saw it), and a unique name per statement (asyncpg's counter names,
    `__asyncpg_stmt_1__`, collide between clients that share a server connection)."""
    return {
        "statement_cache_size": 0,
        "prepared_statement_cache_size": 0,
        "prepared_statement_name_func": _unique_statement_name,
    }


def _unique_statement_name() -> str:
    return f"__asyncpg_{uuid.uuid4()}__"


class RequestSession(AsyncSession):
    """The one session of a GraphQL request, shared by resolvers that run concurrently (sibling root fields
    are awaited together): its database operations take turns instead of failing with SQLAlchemy's
    "concurrent operations are not permitted". Re-entrant within a task (`scalars` calls `execute`).
    A `stream()` result is not covered past the call that opened it: read it before awaiting anything else.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._turn = asyncio.Lock()
        self._holder: asyncio.Task[Any] | None = None


def _taking_turns(operation: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    @functools.wraps(operation)
    async def take_turn(self: RequestSession, *args: Any, **kwargs: Any) -> Any:
        task = asyncio.current_task()
        if self._holder is task:
            return await operation(self, *args, **kwargs)
        async with self._turn:
            self._holder = task
            try:
                return await operation(self, *args, **kwargs)
            finally:
                self._holder = None

    return take_turn


for _name in (
    "execute", "scalar", "scalars", "get", "get_one", "stream", "stream_scalars", "delete", "merge", "flush",
    "refresh", "run_sync", "commit", "rollback", "close", "connection",
):  # fmt: skip
    setattr(RequestSession, _name, _taking_turns(getattr(AsyncSession, _name)))


def idle(session: AsyncSession) -> bool:
    """`session` has nothing to write and no transaction open: committing, rolling back or closing it would
    change nothing. A reading session never made (`ReadingSession.opened`) is."""
    if isinstance(session, ReadingSession) and not session.opened:
        return True
    return not _writes_pending(session) and not session.sync_session.in_transaction()


def _writes_pending(session: AsyncSession) -> bool:
    """Objects added, changed or deleted and not flushed yet."""
    return bool(session.new or session.dirty or session.deleted)


class ReadOnlyViolation(RuntimeError):
    """A statement that writes, sent on a connection for reads only (`reading_only`): a programming error."""


def reading_only(engine: AsyncEngine) -> AsyncEngine:
    """`engine` in autocommit for reads: each statement its own transaction, no BEGIN nor COMMIT round trip.
    Autocommit would commit a write at once, outside any transaction of the request, so one is refused before
    it reaches the server: the guard that keeps "queries only read" true as code changes."""
    reads = engine.execution_options(isolation_level="AUTOCOMMIT")

    @event.listens_for(reads.sync_engine, "before_cursor_execute")
    def refuse_writes(
        conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool
    ) -> None:
        if context.isinsert or context.isupdate or context.isdelete or not _READ.match(statement):
            raise ReadOnlyViolation(f"a write in a read-only query: {statement[:60]!r}")

    return reads


# What a statement on a reading connection may start with (a compiled INSERT, UPDATE or DELETE says so itself,
# CTEs included; `(SELECT ...) UNION (...)` starts with a parenthesis).
_READ = re.compile(r"[\s(]*(SELECT|WITH|SHOW|EXPLAIN|VALUES|TABLE|;|$)", re.IGNORECASE)


def create_sessionmaker(engine: AsyncEngine, *, reading: bool = False) -> async_sessionmaker[AsyncSession]:
    """`reading`: `engine` is `reading_only`'s, and its sessions run `PreparedRead`s on the driver."""
    # expire_on_commit=False: resolvers read attributes after the request's commit.
    return async_sessionmaker(
        engine, class_=ReadingSession if reading else RequestSession, expire_on_commit=False, autoflush=True
    )


class ReadingSession(RequestSession):
    """A request session on a `reading_only` engine (autocommit, never behind PgBouncer): a `PreparedRead`
    runs on its connection's driver.

    Its SQLAlchemy session is made on first use: a request whose reads all run on the driver never makes one
    (a Session with its identity map and transaction state was 5% of a search's CPU in the products process,
    py-spy in process). Any attribute of the session made later (`sync_session`, `bind`, `execute`...) makes
    it then, as constructed."""

    def __init__(self, bind: AsyncEngine | None = None, **kwargs: Any) -> None:
        # RequestSession's turns, and AsyncSession's construction put off (`__getattr__`).
        self._turn = asyncio.Lock()
        self._holder = None
        self._deferred: tuple[AsyncEngine | None, dict[str, Any]] | None = (bind, kwargs)

    def __getattr__(self, name: str) -> Any:
        # Only for an attribute not set yet: AsyncSession's own are set by its construction, made now.
        deferred = self.__dict__.get("_deferred")
        if deferred is None:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        self._deferred = None
        bind, kwargs = deferred
        AsyncSession.__init__(self, bind, **kwargs)
        return getattr(self, name)

    @property
    def opened(self) -> bool:
        """Whether its SQLAlchemy session was made."""
        return self._deferred is None

    def writes_pending(self) -> bool:
        return self.opened and _writes_pending(self)

    @property
    def engine(self) -> AsyncEngine:
        return self._deferred[0] if self._deferred is not None else self.bind  # type: ignore[return-value]

    async def driver_rows(self, sql: str, args: Sequence[Any]) -> list[Any]:
        if self.opened and self.sync_session.in_transaction():
            # The session holds a connection already (an earlier statement of this request): that one.
            connection = await AsyncSession.connection(self)
            raw = await connection.get_raw_connection()
            try:
                return await raw.driver_connection.fetch(sql, *args)  # type: ignore[union-attr, no-any-return]
            except _BROKEN:
                await connection.invalidate()  # what SQLAlchemy does with a connection that broke under it
                raise
        # Else a pooled connection for this statement alone, back in the pool right after: a fifth of the
        # session's checkout and close (0.05 against 0.25 ms of CPU). Never two at once: a request holding
        # one while it waits for another could starve a small pool.
        raw = await self.engine.raw_connection()
        try:
            return await raw.driver_connection.fetch(sql, *args)  # type: ignore[union-attr, no-any-return]
        except _BROKEN:
            await greenlet_spawn(raw.invalidate)
            raise
        finally:
            # Back to the pool (nothing to roll back: the driver ran it outside any transaction), in a
            # greenlet: a pool already full closes it, which is I/O.
            await greenlet_spawn(raw.close)


ReadingSession.driver_rows = _taking_turns(ReadingSession.driver_rows)  # type: ignore[method-assign]

# A connection that broke under a statement: dropped from the pool.
_BROKEN = (OSError, asyncpg.ConnectionDoesNotExistError, asyncpg.InterfaceError)


class PreparedRead:
    """A read statement of a hot path, compiled by SQLAlchemy once and run on asyncpg directly where nothing
    would differ: on a `ReadingSession` with nothing to flush. Elsewhere (a mutation's transaction, behind
    PgBouncer) it runs through `session.execute`, as any statement. Rows are indexed alike either way.

    Why: SQLAlchemy's execution of an already compiled and cached statement (execution context, cursor
    adapter, result and row objects, the greenlet hop) cost 0.40 ms of CPU per call on a held connection and
    0.9 ms through a session, against 0.2 ms for asyncpg running the same SQL (a search page, 21 rows).

    Only statements that need nothing more of SQLAlchemy at execution qualify, checked at the first run: no
    result column converted by its type but arrays (converted here, as SQLAlchemy would), no list expanded
    into the SQL (`IN` takes an array: `= ANY(...)`), and a read (`reading_only`'s guard does not see the
    driver). Parameters are converted by their types' bind processors, as SQLAlchemy would."""

    def __init__(self, statement: Executable) -> None:
        self.statement = statement
        # Its `_DriverForm` once compiled; None: not preparable.
        self._compiled: _DriverForm | bool | None = False

    async def rows(self, session: AsyncSession, values: Mapping[str, Any]) -> Sequence[Any]:
        if isinstance(session, ReadingSession) and not session.writes_pending():
            if self._compiled is False:
                self._compiled = _driver_form(self.statement, session.engine.dialect)
            if isinstance(self._compiled, tuple):
                sql, parameters, defaults, results = self._compiled
                args = [values[name] if name in values else defaults[name] for name, _ in parameters]
                for index, (_, convert) in enumerate(parameters):
                    if convert is not None:
                        args[index] = convert(args[index])
                rows = await session.driver_rows(sql, args)
                return rows if not results else [_converted(row, results) for row in rows]
        return (await session.execute(self.statement, values)).all()


def _converted(row: Sequence[Any], results: tuple[tuple[int, Callable[[Any], Any]], ...]) -> list[Any]:
    values = list(row)
    for index, convert in results:
        values[index] = convert(values[index])
    return values


# (SQL, (parameter name, its type's conversion or None) in order, the statement's own values, (result column,
# its conversion) for the columns converted).
_DriverForm = tuple[
    str,
    tuple[tuple[str, Callable[[Any], Any] | None], ...],
    dict[str, Any],
    tuple[tuple[int, Callable[[Any], Any]], ...],
]


def _driver_form(statement: Executable, dialect: Any) -> _DriverForm | None:
    compiled: Any = statement.compile(dialect=dialect)
    sql = str(compiled)
    if compiled.isinsert or compiled.isupdate or compiled.isdelete or not _READ.match(sql):
        raise ReadOnlyViolation(f"a write prepared as a read: {sql[:60]!r}")
    if compiled.post_compile_params or compiled.literal_execute_params:
        return None
    results = []
    for index, (*_, type_) in enumerate(compiled._result_columns):
        convert = type_._cached_result_processor(dialect, None)
        if convert is not None:
            # An array's conversion (a list, its items by their type) does not depend on the driver's column
            # type, which SQLAlchemy would pass from the cursor and we have not; any other type's might.
            if not isinstance(type_, ARRAY):
                return None
            results.append((index, convert))
    # Each parameter's conversion by its type, as SQLAlchemy applies it (an ARRAY's makes a list).
    conversions = compiled._bind_processors
    parameters = tuple((name, conversions.get(name)) for name in compiled.positiontup or ())
    return sql, parameters, dict(compiled.params), tuple(results)


class EntityRecords:
    """An ORM entity's table read as plain records: one named tuple per row, its fields the entity's column
    attributes in the mapper's order, so code that reads `order.status` reads a record alike. For the read
    paths of a request (pages, DataLoaders): what the request only reads needs no identity map, no change
    tracking and no instance state, which cost the orders service a third of the CPU of a customer's page
    of orders (bench/catalog_cache.py `me`, py-spy). The entity's plain properties (`payment.refundable`)
    read the record's fields alike. A record is immutable: code that changes a row loads the entity."""

    def __init__(self, entity: type[Any]) -> None:
        attributes = sa_inspect(entity).column_attrs
        self.columns = tuple(attribute.columns[0] for attribute in attributes)
        fields = namedtuple(f"{entity.__name__}Fields", [attribute.key for attribute in attributes])
        properties = {
            name: value
            for klass in reversed(entity.__mro__)
            for name, value in vars(klass).items()
            if isinstance(value, property)
        }
        self.record: Any = type(f"{entity.__name__}Record", (fields,), {"__slots__": (), **properties})

    def select(self) -> Select[Any]:
        """`SELECT` of the entity's columns in the record's order."""
        return sa_select(*self.columns)

    def of(self, rows: Iterable[Sequence[Any]]) -> list[Any]:
        """A record of each row (an asyncpg record or a SQLAlchemy row of `select()`'s columns)."""
        return list(map(self.record._make, rows))


def interval_seconds(seconds: float) -> ColumnElement[timedelta]:
    """`seconds` as an SQL interval, bound as a parameter: formatted into the SQL text, a small delay reads
    `2.2e-05 seconds`, which PostgreSQL refuses as an interval."""
    return literal(timedelta(seconds=float(seconds)), Interval())


def any_of(column: ColumnElement[Any], name: str, values: Iterable[Any] | None = None) -> ColumnElement[bool]:
    """`column = ANY(:name)`, the values bound as one array of the column's type (now, or at execution when
    `values` is None): one statement, prepared once, serves every batch size, where an expanded `IN` list
    compiles and prepares one per size."""
    array = ARRAY(column.type)
    parameter = bindparam(name, type_=array) if values is None else bindparam(name, list(values), type_=array)
    return column == any_(parameter)
