"""What follows a change of stock rows, written by one statement (one round trip): its ledger rows, its
events, a new reservation's lines, its reservations' new status. SQL only; rules live in service.py."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import TextClause, text
from sqlalchemy.ext.asyncio import AsyncSession

from shared.outbox import Event, events_json, insert_events_sql
from subgraphs.inventory.repository import Movement, ReservationLineRecord


@dataclass(frozen=True, slots=True)
class Settlement:
    """Reservations a change moves to `status` (`set_status`'s arguments)."""

    reservation_ids: Sequence[uuid.UUID]
    status: str
    keep_expiry: bool = False
    reason: str | None = None


@lru_cache(maxsize=16)
def _changes(lines: bool, settles: bool, keep_expiry: bool, reason: bool) -> TextClause:
    ctes = [
        "movements AS (INSERT INTO stock_movements (variant_id, delta_on_hand, delta_reserved, reason, "
        "reservation_id) SELECT * FROM unnest(CAST(:m_variant AS uuid[]), CAST(:m_on_hand AS integer[]), "
        "CAST(:m_reserved AS integer[]), CAST(:m_reason AS varchar[]), CAST(:m_reservation AS uuid[])))",
        f"events AS ({insert_events_sql('events')})",
    ]
    if lines:
        ctes.append(
            "lines AS (INSERT INTO reservation_lines (reservation_id, variant_id, quantity) "
            "SELECT CAST(:l_reservation AS uuid), l.variant_id, l.quantity FROM unnest("
            "CAST(:l_variant AS uuid[]), CAST(:l_quantity AS integer[])) AS l(variant_id, quantity))"
        )
    if settles:
        sets = "status = :s_status, updated_at = now()"
        sets += "" if keep_expiry else ", expires_at = NULL"
        sets += ", reason = :s_reason" if reason else ""
        ctes.append(f"settled AS (UPDATE reservations SET {sets} WHERE id = ANY(CAST(:s_ids AS uuid[])))")
    return text("WITH " + ", ".join(ctes) + " SELECT 1")


async def write_changes(
    session: AsyncSession,
    *,
    movements: Sequence[Movement],
    events: list[Event],
    lines: tuple[uuid.UUID, Sequence[ReservationLineRecord]] | None = None,
    settle: Settlement | None = None,
) -> None:
    """What follows a change of stock rows, in one statement: its ledger rows (`record_movements`), its
    events, a new reservation's lines (`insert_lines`: its id, its lines) and its reservations' new status
    (`set_status`)."""
    params: dict[str, Any] = {
        "m_variant": [movement.variant_id for movement in movements],
        "m_on_hand": [movement.delta_on_hand for movement in movements],
        "m_reserved": [movement.delta_reserved for movement in movements],
        "m_reason": [movement.reason for movement in movements],
        "m_reservation": [movement.reservation_id for movement in movements],
        "events": events_json(events),
    }
    if lines is not None:
        params["l_reservation"] = lines[0]
        params["l_variant"] = [line.variant_id for line in lines[1]]
        params["l_quantity"] = [line.quantity for line in lines[1]]
    if settle is not None:
        params["s_ids"] = list(settle.reservation_ids)
        params["s_status"] = str(settle.status)
        if settle.reason is not None:
            params["s_reason"] = settle.reason
    statement = _changes(
        lines is not None,
        settle is not None,
        settle is not None and settle.keep_expiry,
        settle is not None and settle.reason is not None,
    )
    await session.execute(statement, params)
