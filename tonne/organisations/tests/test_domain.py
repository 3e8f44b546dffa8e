"""Pure rules for organisations and accounts: ISO 7064 MOD 97-10 check digits
on account identifiers, and the organisation life cycle."""

from __future__ import annotations

import re
import string

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from tonne.core.errors import ValidationFailed
from tonne.organisations import domain
from tonne.organisations.domain import (
    ACCOUNT_TYPE_CODES,
    check_account_identifier,
    check_organisation_transition,
    make_account_identifier,
    mod97_check_digits,
    mod97_is_valid,
)

# --- ISO 7064 MOD 97-10 vectors ----------------------------------------------
# IBANs from the ECBS / SWIFT IBAN registry examples: the check pair of an
# IBAN is computed over BBAN + country code, exactly as our payloads are.
IBAN_VECTORS = [
    "GB82WEST12345698765432",
    "DE89370400440532013000",
    "FR1420041010050500013M02606",
    "BE68539007547034",
    "NL91ABNA0417164300",
    "CH9300762011623852957",
    "IT60X0542811101000000123456",
    "NO9386011117947",
]


def _iban_parts(iban: str) -> tuple[str, str]:
    return iban[4:] + iban[:2], iban[2:4]


@pytest.mark.parametrize("iban", IBAN_VECTORS)
def test_iban_vectors(iban: str) -> None:
    payload, check = _iban_parts(iban)
    assert mod97_check_digits(payload) == check
    assert mod97_is_valid(payload, check)


@pytest.mark.parametrize("iban", IBAN_VECTORS)
def test_iban_vectors_with_wrong_check_rejected(iban: str) -> None:
    payload, check = _iban_parts(iban)
    for other in range(100):
        wrong = f"{other:02d}"
        if wrong != check:
            assert not mod97_is_valid(payload, wrong)


def test_iso7064_example() -> None:
    # ISO 7064 annex example: 794 carries the check pair 44.
    assert mod97_check_digits("794") == "44"
    assert mod97_is_valid("794", "44")


@pytest.mark.parametrize("check", ["", "4", "444", "4a", " 4", "-4"])
def test_check_must_be_two_digits(check: str) -> None:
    assert not mod97_is_valid("794", check)


def test_lowercase_and_symbols_cannot_carry_check_digits() -> None:
    with pytest.raises(ValueError):
        mod97_check_digits("ci100")
    with pytest.raises(ValueError):
        mod97_check_digits("CI-100")


def test_known_account_identifier() -> None:
    assert make_account_identifier("CI", "holding", 1000004) == "CI-100-1000004-16"
    assert make_account_identifier("CI", "buffer", 1000001) == "CI-200-1000001-" + mod97_check_digits("CI2001000001")
    assert check_account_identifier("CI-100-1000004-16") == "CI-100-1000004-16"


def test_identifier_normalised() -> None:
    assert check_account_identifier("  ci-100-1000004-16\n") == "CI-100-1000004-16"


@pytest.mark.parametrize(
    "text",
    [
        "",
        None,
        "CI1001000004 16",
        "CI-100-1000004",
        "CI-100-100004-16",
        "CI-100-10000040-16",
        "CI-10-1000004-16",
        "C-100-1000004-16",
        "CIV-100-1000004-16",
        "CI-100-1000004-6",
        "CI-100-1000004-166",
        "CI_100_1000004_16",
        "12-100-1000004-16",
        "CI-1OO-1000004-16",
        "CI-100-1000004-16-",
        "CI -100-1000004-16",
    ],
)
def test_malformed_identifiers(text: str | None) -> None:
    with pytest.raises(ValidationFailed) as exc:
        check_account_identifier(text, field="to_account")  # type: ignore[arg-type]
    assert exc.value.code == "ACCOUNT_IDENTIFIER_MALFORMED"
    assert exc.value.field == "to_account"
    assert exc.value.status == 422


def test_wrong_check_digits_code() -> None:
    with pytest.raises(ValidationFailed) as exc:
        check_account_identifier("CI-100-1000004-17")
    assert exc.value.code == "ACCOUNT_CHECK_DIGITS"
    assert exc.value.field == "account"
    assert "mistyped" in exc.value.message


def test_example_in_error_message_is_a_valid_identifier() -> None:
    with pytest.raises(ValidationFailed) as exc:
        check_account_identifier("nonsense")
    example = re.search(r"[A-Z]{2}-\d{3}-\d{7}-\d{2}", exc.value.message)
    assert example is not None
    check_account_identifier(example.group(0))


# --- properties ----------------------------------------------------------------

countries = st.text(alphabet=string.ascii_uppercase, min_size=2, max_size=2)
account_types = st.sampled_from(sorted(ACCOUNT_TYPE_CODES))
numbers = st.integers(min_value=0, max_value=9_999_999)
ALPHABET = string.ascii_uppercase + string.digits + "-"


def _rejected(text: str) -> str:
    with pytest.raises(ValidationFailed) as exc:
        check_account_identifier(text)
    assert exc.value.code in ("ACCOUNT_IDENTIFIER_MALFORMED", "ACCOUNT_CHECK_DIGITS")
    return exc.value.code


@given(countries, account_types, numbers)
def test_made_identifiers_are_valid(country: str, account_type: str, number: int) -> None:
    identifier = make_account_identifier(country, account_type, number)
    assert check_account_identifier(identifier) == identifier
    assert domain.ACCOUNT_ID_RE.match(identifier)
    c, code, num, check = identifier.split("-")
    assert (c, code, int(num)) == (country, ACCOUNT_TYPE_CODES[account_type], number)
    assert 2 <= int(check) <= 98


@given(countries, account_types, numbers, st.data())
def test_every_single_character_typo_rejected(country: str, account_type: str, number: int, data: st.DataObject) -> None:
    identifier = make_account_identifier(country, account_type, number)
    position = data.draw(st.integers(min_value=0, max_value=len(identifier) - 1), label="position")
    replacement = data.draw(st.sampled_from(ALPHABET), label="replacement")
    assume(replacement != identifier[position])
    typo = identifier[:position] + replacement + identifier[position + 1 :]
    _rejected(typo)


@given(countries, account_types, numbers, st.data())
def test_every_adjacent_transposition_rejected(country: str, account_type: str, number: int, data: st.DataObject) -> None:
    identifier = make_account_identifier(country, account_type, number)
    position = data.draw(st.integers(min_value=0, max_value=len(identifier) - 2), label="position")
    assume(identifier[position] != identifier[position + 1])
    swapped = identifier[:position] + identifier[position + 1] + identifier[position] + identifier[position + 2 :]
    _rejected(swapped)


@pytest.mark.parametrize("number", [1000001, 1000004, 1234567, 9999999, 0])
def test_exhaustive_typos_and_transpositions_of_examples(number: int) -> None:
    """Not a sample: every substitution and every adjacent swap of a few identifiers."""
    for account_type in ACCOUNT_TYPE_CODES:
        identifier = make_account_identifier("CI", account_type, number)
        for i, original in enumerate(identifier):
            for ch in ALPHABET:
                if ch != original:
                    _rejected(identifier[:i] + ch + identifier[i + 1 :])
        for i in range(len(identifier) - 1):
            a, b = identifier[i], identifier[i + 1]
            if a != b:
                _rejected(identifier[:i] + b + a + identifier[i + 2 :])


@given(countries, account_types, numbers)
def test_digit_typos_fail_on_check_digits_not_format(country: str, account_type: str, number: int) -> None:
    identifier = make_account_identifier(country, account_type, number)
    digits = [i for i, ch in enumerate(identifier) if ch.isdigit()]
    for i in digits:
        for ch in string.digits:
            if ch != identifier[i]:
                assert _rejected(identifier[:i] + ch + identifier[i + 1 :]) == "ACCOUNT_CHECK_DIGITS"


# --- organisation life cycle ----------------------------------------------------

STATUSES = ("applied", "approved", "rejected", "suspended", "closed")
ALLOWED = {
    ("applied", "approved"),
    ("applied", "rejected"),
    ("approved", "suspended"),
    ("approved", "closed"),
    ("suspended", "approved"),
    ("suspended", "closed"),
}


@pytest.mark.parametrize("current", STATUSES)
@pytest.mark.parametrize("target", STATUSES)
def test_organisation_transition_table(current: str, target: str) -> None:
    if (current, target) in ALLOWED:
        check_organisation_transition(current, target)
    else:
        with pytest.raises(ValidationFailed) as exc:
            check_organisation_transition(current, target)
        assert exc.value.code == "ORGANISATION_TRANSITION_NOT_ALLOWED"
        assert exc.value.field == "status"
        assert current in exc.value.message and target in exc.value.message


def test_rejected_and_closed_are_final() -> None:
    assert domain.ORGANISATION_TRANSITIONS["rejected"] == frozenset()
    assert domain.ORGANISATION_TRANSITIONS["closed"] == frozenset()


@pytest.mark.parametrize("target", ["bogus", "", "APPROVED"])
def test_unknown_statuses_refused(target: str) -> None:
    with pytest.raises(ValidationFailed):
        check_organisation_transition("applied", target)
    with pytest.raises(ValidationFailed):
        check_organisation_transition(target, "approved")


def test_terminal_and_system_account_types() -> None:
    assert domain.TERMINAL_ACCOUNT_TYPES == {"retirement", "cancellation", "omge", "export"}
    assert set(domain.SYSTEM_ACCOUNT_TYPES) == {"buffer", "retirement", "cancellation", "omge", "export", "sop"}
    assert len(set(ACCOUNT_TYPE_CODES.values())) == len(ACCOUNT_TYPE_CODES)


def test_non_ascii_digits_are_malformed() -> None:
    # CI-100-1000004-16 written with Arabic-Indic digits.
    with pytest.raises(ValidationFailed) as exc:
        check_account_identifier("CI-١٠٠-١٠٠٠٠٠٤-١٦")
    assert exc.value.code == "ACCOUNT_IDENTIFIER_MALFORMED"
