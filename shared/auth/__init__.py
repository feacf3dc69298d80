"""Tokens and permissions: JWTs signed by users with an asymmetric key, validated by every service."""

from shared.auth.keys import KeyRing, SigningKey
from shared.auth.principal import Principal, Role
from shared.auth.tokens import (
    AccessToken,
    JwksKeySource,
    KeySource,
    LocalKeySource,
    RevocationStore,
    TokenIssuer,
    TokenVerifier,
)

__all__ = [
    "AccessToken",
    "JwksKeySource",
    "KeyRing",
    "KeySource",
    "LocalKeySource",
    "Principal",
    "RevocationStore",
    "Role",
    "SigningKey",
    "TokenIssuer",
    "TokenVerifier",
]
