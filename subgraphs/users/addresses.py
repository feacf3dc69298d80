"""The address book: a user's postal addresses and their default shipping and billing address.

Only the owner changes their addresses. Every change first locks the owner's `users` row, so the changes of
one user (two tabs setting a default, two adds racing the cap) run one after the other; the partial unique
indexes of `addresses` keep at most one default of each kind whatever happens. Removing a default address
leaves the user without that default: we do not guess which address should take its place.
"""

from __future__ import annotations

import uuid
from typing import Any

from shared.addresses import validate_address
from shared.auth import Principal
from shared.errors import Conflict, NotFound
from shared.ids import parse_uuid
from subgraphs.users import address_repository
from subgraphs.users.models import Address
from subgraphs.users.state import InRequest

# Plenty for a shopper (home, work, family, pick-up points) and a bound for demand control (`User.addresses`).
MAX_ADDRESSES_PER_USER = 50
DEFAULT_KINDS = ("shipping", "billing")


class AddressBook(InRequest):
    async def _lock_owner(self, principal: Principal) -> uuid.UUID:
        """The signed-in user's id, their row locked until the request's transaction ends."""
        return (await self.signed_in_user(principal)).id

    async def _own_address(self, user_id: uuid.UUID, raw_id: str) -> Address:
        address_id = parse_uuid(raw_id, "id", "an address id")
        address = await address_repository.get(self.session, address_id)
        # Another user's address answers like a missing one: the id tells nothing.
        if address is None or address.user_id != user_id:
            raise NotFound("No such address in your address book.", field="id")
        return address

    async def _set_defaults(self, address: Address, defaults: dict[str, bool | None]) -> None:
        """Make `address` the default of each kind given True (the old default loses it in the same
        transaction) and stop it being the default of each kind given False."""
        for kind in DEFAULT_KINDS:
            wanted = defaults.get(kind)
            if wanted is None:
                continue
            if wanted:
                await address_repository.clear_default(self.session, address.user_id, kind)
            setattr(address, f"is_default_{kind}", wanted)
        await self.session.flush()

    async def add(
        self, principal: Principal, raw: dict[str, Any], *, default_shipping: bool, default_billing: bool
    ) -> Address:
        value = validate_address(raw)
        user_id = await self._lock_owner(principal)
        if await address_repository.count(self.session, user_id) >= MAX_ADDRESSES_PER_USER:
            raise Conflict(
                f"An address book holds at most {MAX_ADDRESSES_PER_USER} addresses.",
                reason="ADDRESS_BOOK_FULL",
                limit=MAX_ADDRESSES_PER_USER,
            )
        # AddressValue's fields are the table's columns, by design: a checkout copies the same names.
        address = await address_repository.add(self.session, user_id, value.as_dict())
        await self._set_defaults(address, {"shipping": default_shipping, "billing": default_billing})
        return address

    async def update(
        self,
        principal: Principal,
        raw_id: str,
        raw: dict[str, Any] | None,
        *,
        default_shipping: bool | None,
        default_billing: bool | None,
    ) -> Address:
        """Replace the address's fields with `raw` (validated as a whole) and/or change its default flags."""
        value = validate_address(raw) if raw is not None else None
        user_id = await self._lock_owner(principal)
        address = await self._own_address(user_id, raw_id)
        if value is not None:
            for column, field_value in value.as_dict().items():
                setattr(address, column, field_value)
        await self._set_defaults(address, {"shipping": default_shipping, "billing": default_billing})
        return address

    async def remove(self, principal: Principal, raw_id: str) -> uuid.UUID:
        user_id = await self._lock_owner(principal)
        address = await self._own_address(user_id, raw_id)
        await address_repository.remove(self.session, address.id)
        return address.id
