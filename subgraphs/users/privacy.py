"""Privacy: `deleteMe(password)` forgets an account across MyShop; `exportMyData` gathers what it holds.

Deletion here: the `users` row goes (its `addresses` with it, ON DELETE CASCADE), every session and access
token of the user ends at once, the user's personal data is scrubbed from the users outbox (published rows are
kept `outbox_retention_hours`, unpublished ones are still to be sent: both), and `UserDeleted {userId, at}` is
emitted (no email or name: it is kept for a week itself). Every consuming service forgets the user on it.

What can hold a user's personal data, and where it is erased (the survey of issue 14, item 8):

- users: `users` (email, name, password hash) and `addresses` (name, company, lines, city, postal code,
  region, phone): deleted. `outbox.payload`: `UserRegistered` {email, name} (and the other helpers' mail
  events: emails, names) — scrubbed here, published or not (`shared.privacy.redact`). Redis: refresh
  families `users:user-families:<id>`, `users:family:*`, `users:refresh:*` (revoked), access revocation
  markers (kept until the tokens have expired), login throttle keys (SHA-256 of email and address, expire
  within the throttle's memory), the register/login limiter keys (by client address, expire).
- notifications: `notifications` (recipient, subject, body, body_html: the name and email), `product_watches`
  (who wants what): deleted on `UserDeleted`. Its dead letters (`deadletter:notifications`, e.g. a failed
  `UserRegistered` with email and name): scrubbed. No outbox.
- analytics: `user_events` (user id, kind, time), `order_facts`/`payment_facts` (user id, amounts): no name,
  email or address; the rows stay (counts and revenue must not move), keyed by an id that no longer names
  anyone. Its dead letters (every stream's events, `UserRegistered` among them): scrubbed on `UserDeleted`.
- products: `outbox.payload` of `ProductSearched` {search (free text), userId} and `ProductViewed` {userId}
  (kept a week once published): the search text is emptied on `UserDeleted`. Its dead letters only hold its
  own `ProductUpdated` (no user). The product cache in Redis holds products only.
- orders: `orders` (user id, idempotency key and payment method token — opaque client values, amounts,
  statuses), `order_items` (product names, prices), `order_status_history`/`saga_steps` (system reasons),
  `order_shipments` (orders' copy of shipping's parcels: lines, carrier, tracking), `returns` (lines,
  refunds and the customer's reason), outbox payloads (ids, amounts, reasons). On `UserDeleted` the user's
  carts go (they freeze addresses), a return's reason (the customer's own words) is emptied in `returns`
  and in the return events of the outbox, and the outbox's personal keys are scrubbed; the rest stays for
  the books (`subgraphs/orders/privacy.py`).
- payments: `payments` and `refunds` (user id, order id, amounts, method token, provider reasons), outbox
  (the same): nothing personal beyond the user id, kept for the books; no consumer.
- shipping: `fulfillment_orders`/`shipments` (user id, order lines, carrier, tracking number): no name or
  address (the parcel's address stays on the order), kept for the books.
- notifications' webhooks: a partner's or admin's endpoints (`webhooks`, with their deliveries) go with
  their owner's account; stored deliveries of other users' events hold ids and amounts and age out after the
  retention (a week).
- inventory: reservations and movements by order and product: nothing of a user at all.
- every consumer: `processed_events` holds (group, event id) only.
- Redis streams: `events:users` keeps the published `UserRegistered` entries (with email and name) until they
  age out (`event_stream_retention_hours`, 7 days: the relay trims by entry time at each prune): NOT scrubbed
  (rewriting entries that consumer groups may not have read yet would replay or lose them).
  `events:products` likewise keeps `ProductSearched` texts.

An event about the user that notifications handles after their `UserDeleted` (a retry, a replayed dead
letter) mails nothing: notifications keeps a tombstone of deleted accounts, by a digest of the id only.
Known gaps: a search products counted in memory and flushed after its `UserDeleted` keeps its text. Outbox
scrubs match `payload->>'userId'` without an index: a sequential scan of a week of outbox per deletion (an
expression index would make it a lookup).

`exportMyData` answers a `PersonalDataExport` entity (key `userId`) that users owns with `account`, and that
orders, payments, notifications and analytics each extend with one JSON field named after themselves; every
subgraph checks that the caller is that user (or ADMIN/SERVICE) in its `resolve_reference`
(`shared.privacy.check_export_reader`), so a representation crafted for another user is refused.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete

from shared.auth import Principal, Role
from shared.errors import Conflict, Forbidden, NotFound
from shared.privacy import check_export_reader, scrub_outbox
from shared.ratelimit import Limit
from subgraphs.users import address_repository, repository
from subgraphs.users.events import UserEvent
from subgraphs.users.models import User, outbox
from subgraphs.users.state import InRequest


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


# An export reads every subgraph's share of the user's data: a shopper needs it now and then, not in a loop.
EXPORT_LIMIT = Limit(attempts=10, window_seconds=3600)


class Privacy(InRequest):
    async def delete_me(self, principal: Principal, password: str) -> None:
        """Delete the signed-in user's account once their password is proved again (throttled like login)."""
        user = await self.signed_in_user(principal, for_update=False)
        user_id = user.id
        await self.prove_password(user, password, "password")
        if Role.ADMIN in user.roles:
            # Locked in id order before the user (as set_roles does): two last admins deleting themselves at
            # once cannot both pass.
            admins = await repository.lock_admin_ids(self.session)
            if admins == [user_id]:
                raise Conflict("This is the last ADMIN; make another user ADMIN first.", reason="LAST_ADMIN")
        if await repository.get(self.session, user_id, for_update=True) is None:
            raise NotFound("Your account no longer exists.")
        await self.session.execute(delete(User).where(User.id == user_id))
        await scrub_outbox(self.session, outbox.table, str(user_id))
        await outbox.emit(
            self.session,
            UserEvent.USER_DELETED,
            {"userId": user_id, "at": datetime.now(UTC)},
            aggregate_id=user_id,
        )
        # A refresh or login meanwhile finds no user. Should the commit fail, the user is signed out but kept:
        # the safe side.
        await self.end_every_session(user_id)

    async def start_export(self, principal: Principal) -> uuid.UUID:
        """The signed-in user's id, for their export; RATE_LIMITED past `EXPORT_LIMIT` exports an hour."""
        if principal.user_id is None:
            raise Forbidden("Only a signed-in user has data to export.")
        await self.state.limiter.enforce(
            f"users:export:{principal.user_id}", EXPORT_LIMIT, "Too many exports; try again later."
        )
        return uuid.UUID(principal.user_id)

    async def account(self, principal: Principal, raw_user_id: str) -> dict[str, Any] | None:
        """The account part of the export: profile, roles, times and the address book."""
        user_id = check_export_reader(principal, raw_user_id)
        user = await self.context.loaders.user_by_id.load(user_id)
        if user is None:
            return None
        addresses = await address_repository.for_users(self.session, [user_id])
        return {
            "id": str(user.id),
            "email": user.email,
            "name": user.name,
            "roles": list(user.roles),
            "createdAt": _iso(user.created_at),
            "updatedAt": _iso(user.updated_at),
            "addresses": [
                {
                    "id": str(address.id),
                    "name": address.name,
                    "company": address.company,
                    "line1": address.line1,
                    "line2": address.line2,
                    "city": address.city,
                    "postalCode": address.postal_code,
                    "region": address.region,
                    "country": address.country,
                    "phone": address.phone,
                    "isDefaultShipping": address.is_default_shipping,
                    "isDefaultBilling": address.is_default_billing,
                    "createdAt": _iso(address.created_at),
                }
                for address in addresses
            ],
        }
