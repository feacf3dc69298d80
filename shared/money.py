"""Money as integer minor units plus an ISO 4217 currency code: never a float, anywhere in MyShop."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

# ISO 4217 list one, as published on 2026-01-01: ANG, BGN, CUC, SLL and ZWL have moved to the
# historic list (replaced by XCG, EUR, CUP, SLE and ZWG). Left out on purpose: the fund codes
# (BOV, CHE, CHW, CLF, COU, MXV, USN, UYI), the accounting units XAD, XDR, XSU and XUA, the bond
# market units XBA-XBD, the precious metals XAG, XAU, XPD and XPT, and XTS and XXX: none of them
# is a currency a shop takes payment in. Grouped by the number of minor-unit digits.
_CODES_BY_MINOR_DIGITS: tuple[tuple[int, str], ...] = (
    (0, "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX VND VUV XAF XOF XPF"),
    (
        2,
        "AED AFN ALL AMD AOA ARS AUD AWG AZN BAM BBD BDT BMD BND BOB BRL BSD BTN BWP BYN BZD "
        "CAD CDF CHF CNY COP CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP "
        "GBP GEL GHS GIP GMD GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD "
        "KES KGS KHR KPW KYD KZT LAK LBP LKR LRD LSL MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK "
        "MXN MYR MZN NAD NGN NIO NOK NPR NZD PAB PEN PGK PHP PKR PLN QAR RON RSD RUB "
        "SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TOP TRY TTD TWD TZS "
        "UAH USD UYU UZS VED VES WST XCD XCG YER ZAR ZMW ZWG",
    ),
    (3, "BHD IQD JOD KWD LYD OMR TND"),
    (4, "UYW"),
)

CURRENCIES: Mapping[str, int] = MappingProxyType(
    {code: digits for digits, codes in _CODES_BY_MINOR_DIGITS for code in codes.split()}
)

# PostgreSQL BIGINT holds every amount we store; refusing larger ones here turns a database
# overflow deep inside a transaction into a clear error at the edge.
_MAX_AMOUNT = 2**63 - 1


def normalize_currency(code: str) -> str:
    """Return the upper-case ISO 4217 code for ``code`` (surrounding whitespace and case ignored)."""
    if not isinstance(code, str):
        raise TypeError(f"currency code must be a string, not {type(code).__name__}")
    normalized = code.strip().upper()
    if normalized not in CURRENCIES:
        raise ValueError(f"unknown currency code {code!r}: expected an active ISO 4217 code such as 'USD'")
    return normalized


@dataclass(frozen=True, slots=True)
class Money:
    """An amount in the currency's minor units (cents for USD, yen for JPY, fils for KWD)."""

    amount: int
    currency: str

    def __post_init__(self) -> None:
        # bool is a subclass of int, and a float (or Decimal) here means someone skipped the conversion.
        if type(self.amount) is not int:
            raise TypeError(f"money amount must be an int in minor units, not {type(self.amount).__name__}")
        if abs(self.amount) > _MAX_AMOUNT:
            raise ValueError(
                f"money amount {self.amount} is out of range (at most {_MAX_AMOUNT} in magnitude)"
            )
        # Frozen dataclass: the normalized code has to be set through object.__setattr__.
        object.__setattr__(self, "currency", normalize_currency(self.currency))

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(0, currency)

    def __add__(self, other: object) -> Money:
        if not isinstance(other, Money):
            return NotImplemented
        self._require_same_currency(other, "add")
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: object) -> Money:
        if not isinstance(other, Money):
            return NotImplemented
        self._require_same_currency(other, "subtract")
        return Money(self.amount - other.amount, self.currency)

    def __mul__(self, quantity: object) -> Money:
        """A line total: unit price times an integer quantity."""
        if type(quantity) is not int:
            return NotImplemented
        return Money(self.amount * quantity, self.currency)

    __rmul__ = __mul__

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def format(self) -> str:
        """``"USD 12.34"``, ``"JPY 1200"``, ``"KWD -1.005"``: exact, whatever the amount."""
        digits = CURRENCIES[self.currency]
        sign = "-" if self.amount < 0 else ""
        if digits == 0:
            return f"{self.currency} {sign}{abs(self.amount)}"
        major, minor = divmod(abs(self.amount), 10**digits)
        return f"{self.currency} {sign}{major}.{minor:0{digits}d}"

    def __str__(self) -> str:
        return self.format()

    def _require_same_currency(self, other: Money, operation: str) -> None:
        if other.currency != self.currency:
            raise ValueError(
                f"cannot {operation} amounts in different currencies: {self.currency} and {other.currency}"
            )
