"""Async SQLAlchemy 2 on asyncpg: the engine, the session factory and the declarative base of a service."""

from __future__ import annotations

from sqlalchemy import MetaData
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase

# Stable constraint and index names, so Alembic migrations never depend on the database's own naming.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def new_metadata() -> MetaData:
    """Each service owns its database, so each declarative base gets its own MetaData."""
    return MetaData(naming_convention=NAMING_CONVENTION)


class ModelBase(DeclarativeBase):
    """Abstract root of every service's models.

    A service declares `class Base(ModelBase): __abstract__ = True; metadata = new_metadata()`.
    """

    __abstract__ = True


def create_engine(database_url: str, *, pool_size: int = 10, application_name: str = "myshop") -> AsyncEngine:
    return create_async_engine(
        database_url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        # A server restart must not leave the pool with dead connections for long.
        pool_recycle=1800,
        connect_args={"server_settings": {"application_name": application_name}},
    )


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    # expire_on_commit=False: resolvers read attributes after the request's commit.
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=True)
