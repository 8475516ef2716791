"""The offline detector: validated patterns, not look-alikes."""

import pytest

from workloads.pii.patterns import detect, iban_valid, luhn_valid


@pytest.mark.parametrize(
    ("value", "pii_type"),
    [
        ("charles04@example.org", "EMAIL"),
        ("+1 (415) 555-0132", "PHONE"),
        ("4111 1111 1111 1111", "CREDIT_DEBIT_NUMBER"),
        ("5500-0000-0000-0004", "CREDIT_DEBIT_NUMBER"),
        ("123-45-6789", "SSN"),
        ("192.168.10.1", "IP_ADDRESS"),
        ("2001:db8::8a2e:370:7334", "IP_ADDRESS"),
        ("GB82WEST12345698765432", "INTERNATIONAL_BANK_ACCOUNT_NUMBER"),
        ("DE89 3704 0044 0532 0130 00", "INTERNATIONAL_BANK_ACCOUNT_NUMBER"),
    ],
)
def test_valid_values_are_detected(value, pii_type):
    assert detect(value) == pii_type


@pytest.mark.parametrize(
    "value",
    [
        "stcules",
        "König-Brauerei",
        "AR",
        "American IPA",
        "4111 1111 1111 1112",  # fails Luhn
        "000-12-3456",  # area 000 is never issued
        "666-12-3456",
        "123-00-6789",
        "999.1.1.1",
        "GB82WEST12345698765431",  # fails mod 97
        "not@an@email",
        "12345",
    ],
)
def test_look_alikes_are_not_detected(value):
    assert detect(value) is None


def test_checksums():
    assert luhn_valid("79927398713") and not luhn_valid("79927398710")
    assert iban_valid("GB82 WEST 1234 5698 7654 32")
