"""shared.addresses: per-country validation runs on the data bundled with the libraries, never the network."""

from __future__ import annotations

import socket

import pytest

from shared.addresses import validate_address
from shared.errors import BadUserInput


def test_validating_addresses_of_many_countries_opens_no_socket(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("address validation tried the network")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)

    japan = validate_address(
        {
            "name": "N",
            "line1": "1-1 Chiyoda",
            "city": "Chiyoda-ku",
            "region": "Tokyo",
            "postalCode": "100-0001",
            "country": "JP",
            "phone": "03-1234-5678",
        }
    )
    brazil = validate_address(
        {
            "name": "N",
            "line1": "Av. Paulista, 1578",
            "city": "São Paulo",
            "region": "SP",
            "postalCode": "01310-200",
            "country": "BR",
        }
    )
    with pytest.raises(BadUserInput):
        validate_address({"name": "N", "line1": "x", "city": "Berlin", "postalCode": "123", "country": "DE"})

    assert (japan.postal_code, japan.phone) == ("100-0001", "+81312345678")
    assert (brazil.region, brazil.country) == ("SP", "BR")
