"""shared.sealed: secrets in events open only for the service secret and purpose they were sealed with."""

from __future__ import annotations

import pytest

from shared.sealed import SealError, seal, unseal


def test_a_sealed_value_opens_with_its_secret_and_purpose() -> None:
    sealed = seal("s3cret", "password-reset", "token-123")
    assert "token-123" not in sealed
    assert unseal("s3cret", "password-reset", sealed) == "token-123"


def test_each_seal_is_different() -> None:
    assert seal("s3cret", "p", "same") != seal("s3cret", "p", "same")


@pytest.mark.parametrize(
    ("secret", "purpose"), [("other-secret", "password-reset"), ("s3cret", "email-verification")]
)
def test_another_secret_or_purpose_does_not_open_it(secret: str, purpose: str) -> None:
    sealed = seal("s3cret", "password-reset", "token-123")
    with pytest.raises(SealError):
        unseal(secret, purpose, sealed)


@pytest.mark.parametrize("garbage", ["", "abc", "!!!!", "A" * 40])
def test_garbage_is_refused(garbage: str) -> None:
    with pytest.raises(SealError):
        unseal("s3cret", "p", garbage)
