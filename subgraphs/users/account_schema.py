"""Account mutations beyond sign-in (verification, password reset, profile, credentials), merged into the
users schema by schema.py, and what `register` answers."""

from __future__ import annotations

import strawberry
from strawberry.federation.schema_directives import Cost
from strawberry.types import Info

from shared.auth.permissions import IsAuthenticated, guarded
from subgraphs.users import models
from subgraphs.users.accounts import Accounts
from subgraphs.users.user_types import AuthPayload, User

REGISTERED_MESSAGE = (
    "Check your inbox: we sent a message to this address. Confirm the address with the code or link in it, "
    "then sign in."
)


@strawberry.type(
    description="What `register` answers: the same whether or not the address already has an account (its "
    "owner is told by mail instead). Sign in with `login`; the address is confirmed with `verifyEmail`."
)
class RegisterPayload:
    email: str = strawberry.field(description="The address as the account stores it (normalized).")
    verification_required: bool = strawberry.field(
        description="Always true: the address is confirmed by the code mailed to it."
    )
    message: str

    @classmethod
    def for_email(cls, email: str) -> RegisterPayload:
        return cls(email=email, verification_required=True, message=REGISTERED_MESSAGE)


def _user(user: models.User) -> User:
    # The token proved the caller reads this account's mail, which already lets them reset its password: they
    # may read what the owner reads (email, emailVerified) without signing in.
    return User.from_model(user, signed_in_as=True)


@strawberry.type
class AccountMutation:
    @strawberry.mutation(
        description="Confirm the account's email address with the code mailed to it (no sign-in needed). "
        "A wrong, used or expired code: BAD_USER_INPUT (field `token`)."
    )
    async def verify_email(self, info: Info, token: str) -> User:
        return _user(await Accounts(info.context).verify_email(token))

    @strawberry.mutation(
        **guarded(IsAuthenticated),
        description="Mail a new verification code to your address (the earlier one stops working); false "
        "when the address is already verified. At most 5 an hour.",
    )
    async def resend_verification(self, info: Info) -> bool:
        principal = await info.context.require_principal()
        return await Accounts(info.context).resend_verification(principal)

    @strawberry.mutation(
        description="Mail a password reset code (valid 1 hour) to the account of `email`, if there is one. "
        "Always true: the answer does not say whether the address has an account."
    )
    async def request_password_reset(self, info: Info, email: str) -> bool:
        return await Accounts(info.context).request_password_reset(email)

    @strawberry.mutation(
        description="Set a new password with a reset code (single use). Every session of the account ends. "
        "A wrong, used or expired code: BAD_USER_INPUT (field `token`).",
        # Demand control: a password hash.
        directives=[Cost(weight=100)],
    )
    async def reset_password(self, info: Info, token: str, new_password: str) -> bool:
        return await Accounts(info.context).reset_password(token, new_password)

    @strawberry.mutation(**guarded(IsAuthenticated), description="Change your name.")
    async def update_me(self, info: Info, name: str) -> User:
        principal = await info.context.require_principal()
        return _user(await Accounts(info.context).update_me(principal, name))

    @strawberry.mutation(
        **guarded(IsAuthenticated, Cost(weight=100)),
        description="Change your password (throttled like login). Every session ends; this device gets new "
        "tokens. A wrong current password: BAD_USER_INPUT (field `currentPassword`).",
    )
    async def change_password(self, info: Info, current_password: str, new_password: str) -> AuthPayload:
        principal = await info.context.require_principal()
        signed_in = await Accounts(info.context).change_password(principal, current_password, new_password)
        return AuthPayload.from_signed_in(signed_in)

    @strawberry.mutation(
        **guarded(IsAuthenticated, Cost(weight=100)),
        description="Ask to change your email address: a code goes to the new address, a notice to the "
        "current one; `confirmEmailChange` switches. Always true (the answer does not say whether the new "
        "address has an account). A wrong password: BAD_USER_INPUT (field `password`).",
    )
    async def change_email(self, info: Info, new_email: str, password: str) -> bool:
        principal = await info.context.require_principal()
        return await Accounts(info.context).change_email(principal, new_email, password)

    @strawberry.mutation(
        description="Switch the account to the address the code was mailed to (no sign-in needed). A wrong, "
        "used or expired code: BAD_USER_INPUT (field `token`); the address taken meanwhile: CONFLICT."
    )
    async def confirm_email_change(self, info: Info, token: str) -> User:
        return _user(await Accounts(info.context).confirm_email_change(token))
