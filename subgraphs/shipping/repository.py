"""SQL for shipping's tables, nothing else."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from subgraphs.shipping.models import ShippingMethod, ShippingZone, ZoneCountry


async def list_zones(session: AsyncSession) -> Sequence[ShippingZone]:
    return (await session.scalars(select(ShippingZone).order_by(ShippingZone.name))).all()


async def shipped_countries(session: AsyncSession) -> list[str]:
    """Every country some active method ships to (ISO alpha-2), sorted."""
    active = select(ShippingMethod.zone_id).where(ShippingMethod.active.is_(True))
    statement = (
        select(ZoneCountry.country)
        .where(ZoneCountry.zone_id.in_(active))
        .distinct()
        .order_by(ZoneCountry.country)
    )
    return list((await session.scalars(statement)).all())


async def get_zone(
    session: AsyncSession, zone_id: uuid.UUID, *, for_update: bool = False
) -> ShippingZone | None:
    query = select(ShippingZone).where(ShippingZone.id == zone_id)
    if for_update:
        query = query.with_for_update()
    return (await session.scalars(query)).one_or_none()


async def get_zones(session: AsyncSession, zone_ids: Collection[uuid.UUID]) -> Sequence[ShippingZone]:
    return (await session.scalars(select(ShippingZone).where(ShippingZone.id.in_(zone_ids)))).all()


async def zone_named(session: AsyncSession, name: str) -> ShippingZone | None:
    query = select(ShippingZone).where(func.lower(ShippingZone.name) == name.lower())
    return (await session.scalars(query)).first()


async def zones_of_countries(session: AsyncSession, countries: Collection[str]) -> dict[str, uuid.UUID]:
    """country -> the zone holding it, for those of `countries` that some zone holds."""
    rows = await session.execute(
        select(ZoneCountry.country, ZoneCountry.zone_id).where(ZoneCountry.country.in_(countries))
    )
    return {country: zone_id for country, zone_id in rows}


async def delete_zone(session: AsyncSession, zone_id: uuid.UUID) -> None:
    await session.execute(delete(ShippingMethod).where(ShippingMethod.zone_id == zone_id))
    await session.execute(delete(ShippingZone).where(ShippingZone.id == zone_id))


async def get_method(
    session: AsyncSession, method_id: uuid.UUID, *, for_update: bool = False
) -> ShippingMethod | None:
    query = select(ShippingMethod).where(ShippingMethod.id == method_id)
    if for_update:
        query = query.with_for_update()
    return (await session.scalars(query)).one_or_none()


async def get_methods(session: AsyncSession, method_ids: Collection[uuid.UUID]) -> Sequence[ShippingMethod]:
    return (await session.scalars(select(ShippingMethod).where(ShippingMethod.id.in_(method_ids)))).all()


async def methods_of_zones(
    session: AsyncSession, zone_ids: Collection[uuid.UUID], *, active_only: bool = False
) -> Sequence[ShippingMethod]:
    query = select(ShippingMethod).where(ShippingMethod.zone_id.in_(zone_ids))
    if active_only:
        query = query.where(ShippingMethod.active.is_(True))
    return (await session.scalars(query.order_by(ShippingMethod.name, ShippingMethod.id))).all()


async def count_methods(session: AsyncSession, zone_id: uuid.UUID, *, active_only: bool = False) -> int:
    query = select(func.count()).select_from(ShippingMethod).where(ShippingMethod.zone_id == zone_id)
    if active_only:
        query = query.where(ShippingMethod.active.is_(True))
    return (await session.scalar(query)) or 0
