"""Each service's Alembic history by the service's name: `shared.migrations` runs a history, the subgraph
registry says where each service keeps its own (`subgraphs/<service>/migrations/`).

The database helpers of `shared.migrations` are re-exported, so a caller migrating services by name needs one
import.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from shared import migrations
from shared.migrations import drop_database, ensure_database, model_drift
from subgraphs import registry

__all__ = [
    "downgrade",
    "downgrade_async",
    "drop_database",
    "ensure_database",
    "history_of",
    "model_drift",
    "revision",
    "upgrade",
    "upgrade_async",
]


def history_of(service: str) -> Path:
    """The directory of `service`'s migration history."""
    if service not in registry.SUBGRAPHS:
        raise KeyError(f"unknown subgraph {service!r}; known: {', '.join(registry.SUBGRAPHS)}")
    package = importlib.import_module(f"subgraphs.{service}")
    return Path(package.__file__ or "").parent / "migrations"


def upgrade(service: str, database_url: str, revision: str = "head") -> None:
    migrations.upgrade(history_of(service), database_url, revision)


def downgrade(service: str, database_url: str, revision: str = "base") -> None:
    migrations.downgrade(history_of(service), database_url, revision)


def revision(service: str, database_url: str, message: str) -> None:
    migrations.revision(history_of(service), database_url, message)


async def upgrade_async(service: str, database_url: str, revision: str = "head") -> None:
    await migrations.upgrade_async(history_of(service), database_url, revision)


async def downgrade_async(service: str, database_url: str, revision: str = "base") -> None:
    await migrations.downgrade_async(history_of(service), database_url, revision)
