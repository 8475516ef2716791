"""Offline PII detection with validated patterns (no network, no AWS).

Each detector matches a shape and then validates it the way the format defines validity
(Luhn for card numbers, ISO 13616 mod-97 for IBANs, ``ipaddress`` for IPs, SSA rules for
SSNs), so look-alike numbers are not flagged. Used where Comprehend is unavailable (local mode,
tests) and as a second opinion in AWS.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable

_EMAIL = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$"
)
_PHONE = re.compile(r"^\+?[0-9 ().-]{7,20}$")
_CARD = re.compile(r"^[0-9][0-9 -]{11,22}[0-9]$")
_SSN = re.compile(r"^(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}$")
_IBAN = re.compile(r"^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}$")


def is_email(value: str) -> bool:
    """An address of the form local@domain.tld."""
    return bool(_EMAIL.match(value)) and len(value) <= 254


def is_phone(value: str) -> bool:
    """A phone number: 10 to 15 digits (E.164 allows 15), optional + and separators."""
    if not _PHONE.match(value):
        return False
    digits = sum(ch.isdigit() for ch in value)
    return 10 <= digits <= 15


def luhn_valid(digits: str) -> bool:
    """The Luhn checksum of a digit string."""
    total = 0
    for index, char in enumerate(reversed(digits)):
        number = int(char)
        if index % 2 == 1:
            number = number * 2 - 9 if number > 4 else number * 2
        total += number
    return total % 10 == 0


def is_credit_card(value: str) -> bool:
    """13 to 19 digits (spaces or dashes allowed) passing the Luhn check."""
    if not _CARD.match(value):
        return False
    digits = re.sub(r"[ -]", "", value)
    return 13 <= len(digits) <= 19 and luhn_valid(digits)


def is_ssn(value: str) -> bool:
    """A US SSN AAA-GG-SSSS with the area, group and serial numbers the SSA issues."""
    return bool(_SSN.match(value))


def is_ip_address(value: str) -> bool:
    """An IPv4 or IPv6 address."""
    if not (":" in value or value.count(".") == 3):
        return False
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def iban_valid(value: str) -> bool:
    """ISO 13616: move the first four characters to the end, letters to numbers, mod 97 = 1."""
    compact = value.replace(" ", "").upper()
    if not _IBAN.match(compact):
        return False
    rearranged = compact[4:] + compact[:4]
    number = "".join(str(int(ch, 36)) for ch in rearranged)
    return int(number) % 97 == 1


DETECTORS: tuple[tuple[str, Callable[[str], bool]], ...] = (
    ("EMAIL", is_email),
    ("INTERNATIONAL_BANK_ACCOUNT_NUMBER", iban_valid),
    ("SSN", is_ssn),
    ("CREDIT_DEBIT_NUMBER", is_credit_card),
    ("IP_ADDRESS", is_ip_address),
    ("PHONE", is_phone),
)
"""Most specific first: a card number is also a long digit string a phone pattern accepts."""


def detect(value: str) -> str | None:
    """The PII type of one value, or ``None``."""
    text = value.strip()
    for pii_type, matches in DETECTORS:
        if matches(text):
            return pii_type
    return None
