"""One rule for ids and idempotency keys in every service (shared.ids)."""

from __future__ import annotations

import uuid

import pytest

from shared.errors import BAD_USER_INPUT, BadUserInput
from shared.ids import clean_key, parse_uuid, uuid_or_none


def test_a_uuid_argument_is_parsed_whatever_its_form() -> None:
    value = uuid.uuid4()

    assert parse_uuid(str(value), "orderId") == value
    assert parse_uuid(value, "orderId") == value
    assert uuid_or_none(str(value).upper()) == value


@pytest.mark.parametrize("value", ["not-an-id", "", None, 42, "123e4567-e89b-12d3-a456"])
def test_a_malformed_id_argument_is_bad_user_input_naming_the_field(value: object) -> None:
    with pytest.raises(BadUserInput) as raised:
        parse_uuid(value, "items.0.productId", "a product id")

    assert raised.value.extensions == {"code": BAD_USER_INPUT, "field": "items.0.productId"}
    assert uuid_or_none(value) is None


@pytest.mark.parametrize(
    "key", ["k", "order:6f1c3f0e-2b8a-5d4c-9e7a-4d2b1c0a9e51:charge", "A.b_c-1:2", "k" * 200]
)
def test_an_idempotency_key_is_kept_exactly_as_sent(key: str) -> None:
    assert clean_key(key) == key


@pytest.mark.parametrize("key", ["", "  ", " k", "a key", "k\n", "ключ", "k" * 201, None, 7])
def test_a_bad_idempotency_key_is_bad_user_input_naming_the_field(key: object) -> None:
    with pytest.raises(BadUserInput) as raised:
        clean_key(key, field="input.key")

    assert raised.value.extensions == {"code": BAD_USER_INPUT, "field": "input.key"}


def test_a_service_may_store_shorter_keys() -> None:
    assert clean_key("k" * 100, max_length=100) == "k" * 100
    with pytest.raises(BadUserInput):
        clean_key("k" * 101, max_length=100)
