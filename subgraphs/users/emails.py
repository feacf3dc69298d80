"""Email addresses as accounts see them: one canonical form, refusal of look-alike tricks, and the TR39
skeleton that makes admin@ with a full-width or a Cyrillic a, and adrnin@, one address for uniqueness.

Every refusal depends on the typed address alone, never on which accounts exist, so it reveals nothing. The
skeleton is ICU's own (`SpoofChecker.getSkeleton`, the reference implementation of UTS #39 section 4, with the
confusables data of the ICU build in the PyICU wheel): nothing is downloaded at run time.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

import icu
from email_validator import EmailNotValidError, validate_email

from shared.errors import BadUserInput

# UTS #39 "highly restrictive": one script besides Common/Inherited (resolved through Script_Extensions), or
# Latin with Han and the Japanese, Chinese or Korean scripts that are written with it. Latin with Cyrillic or
# Greek is refused; a wholly Cyrillic or Greek part is fine. Checked per local part and per domain label.
# Also refused (INVISIBLE): the same combining mark twice in a row (`á́́`), which renders like one.
_SCRIPTS = icu.SpoofChecker()
_SCRIPTS.setChecks(icu.USpoofChecks.RESTRICTION_LEVEL | icu.USpoofChecks.INVISIBLE)
_SCRIPTS.setRestrictionLevel(icu.URestrictionLevel.HIGHLY_RESTRICTIVE)
# getSkeleton is const in ICU: one checker serves every thread.
_SKELETONS = icu.SpoofChecker()
_SKELETON_TYPE = 0  # ignored since ICU 58 (one table for every case); the API still takes it


@dataclass(frozen=True)
class CanonicalEmail:
    address: str  # what we store and answer: local part as typed, domain lower-cased Unicode (IDNA), NFC
    skeleton: str  # users.email_skeleton: equal for addresses a reader cannot tell apart


def canonical(raw: str) -> CanonicalEmail:
    """The address a new account gets (register, changeEmail), or BAD_USER_INPUT on field `email`."""
    typed = raw.strip()
    # Compatibility characters (full-width letters, ligatures, superscripts...) only ever imitate others.
    if unicodedata.normalize("NFKC", typed) != unicodedata.normalize("NFC", typed):
        raise BadUserInput("The email address has look-alike (compatibility) characters.", field="email")
    address = _validated(typed)
    local, _, domain = address.rpartition("@")
    if any(_SCRIPTS.check(part) for part in (local, *domain.split("."))):
        raise BadUserInput(
            "The email address mixes writing systems in one part, or repeats a mark.", field="email"
        )
    return CanonicalEmail(address=address, skeleton=skeleton(address))


def login_key(raw: str) -> str | None:
    """lower() of the address a login names (NFKC-folded: a full-width admin@ signs in as admin, with admin's
    password), or None where it is no address at all."""
    try:
        return _validated(unicodedata.normalize("NFKC", raw.strip())).lower()
    except BadUserInput:
        return None


def stored_key(raw: str) -> str | None:
    """lower() of the address as typed, without NFKC: finds an account made before the rules above existed."""
    try:
        return _validated(raw.strip()).lower()
    except BadUserInput:
        return None


def skeleton(address: str) -> str:
    """UTS #39 skeleton of the case-folded address: NFD, each character to its confusables.txt prototype, NFD.

    Total over any string (a stored address that today's rules would refuse still gets one), and not an
    address: only ever compared with another skeleton.
    """
    return str(_SKELETONS.getSkeleton(_SKELETON_TYPE, address.casefold()))


def _validated(address: str) -> str:
    # Syntax only: no DNS lookup on the request path. The domain comes back IDNA-normalised in Unicode form
    # (`xn--bcher-kva.example` and `BÜCHER.example` are both `bücher.example`).
    try:
        return validate_email(address, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise BadUserInput(f"Invalid email address: {exc}", field="email") from exc
