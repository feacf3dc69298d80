"""Privacy's GraphQL types and operations (merged into the users schema by schema.py): `exportMyData` and
`deleteMe(password)`. The export is an entity other subgraphs extend with their own part (privacy.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import strawberry
from strawberry.federation.schema_directives import Cost
from strawberry.scalars import JSON
from strawberry.types import Info

from shared.auth.permissions import IsAuthenticated, guarded
from shared.privacy import check_export_reader
from subgraphs.users.privacy import Privacy


@strawberry.federation.type(
    keys=["userId"],
    description="Everything MyShop holds on one user, one JSON part per subgraph that holds some "
    "(`account` here; `orders`, `payments`, `notifications`, `analytics` from theirs). The user themself, "
    "ADMIN or SERVICE only.",
)
class PersonalDataExport:
    user_id: strawberry.ID
    generated_at: datetime

    @strawberry.field(description="Profile, roles, times and address book; null once the account is deleted.")
    async def account(self, info: Info) -> JSON | None:
        principal = await info.context.require_principal()
        return await Privacy(info.context).account(principal, str(self.user_id))

    @classmethod
    async def resolve_reference(cls, info: Info, **representation: Any) -> PersonalDataExport:
        # Strawberry passes the representation's keys as they are (`userId`).
        user_id = strawberry.ID(str(representation.get("userId")))
        check_export_reader(await info.context.require_principal(), str(user_id))
        return cls(user_id=user_id, generated_at=datetime.now(UTC))


@strawberry.type
class PrivacyQuery:
    @strawberry.field(
        **guarded(IsAuthenticated),
        description="A JSON export of everything MyShop holds on you, gathered from every subgraph "
        "(10 an hour).",
    )
    async def export_my_data(self, info: Info) -> PersonalDataExport:
        principal = await info.context.require_principal()
        user_id = await Privacy(info.context).start_export(principal)
        return PersonalDataExport(user_id=strawberry.ID(str(user_id)), generated_at=datetime.now(UTC))


@strawberry.type
class PrivacyMutation:
    # Demand control: a password verification (argon2) costs like login.
    @strawberry.mutation(
        **guarded(IsAuthenticated, Cost(weight=100)),
        description="Delete your account once your password is given again: your sessions end now and every "
        "service forgets your personal data (orders and payments keep amounts for the books). "
        "The last ADMIN cannot delete themself (CONFLICT).",
    )
    async def delete_me(self, info: Info, password: str) -> bool:
        principal = await info.context.require_principal()
        await Privacy(info.context).delete_me(principal, password)
        return True
