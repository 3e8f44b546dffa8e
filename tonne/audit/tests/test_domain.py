"""The pure rules of the audit trail, without a database."""

import pytest

from tonne.audit import domain
from tonne.core.errors import ValidationFailed


def test_device_ids_are_taken_only_when_well_formed_and_stored_hashed() -> None:
    assert domain.device_id_acceptable("a" * 16) and domain.device_id_acceptable("a-b_c" * 4)
    assert not domain.device_id_acceptable("short") and not domain.device_id_acceptable("a" * 65)
    assert not domain.device_id_acceptable("a" * 15 + ";")
    assert domain.device_fingerprint("a" * 16) != "a" * 16 and len(domain.device_fingerprint("x")) == 64


def test_a_review_decision_is_one_of_the_choices_and_says_why() -> None:
    assert domain.check_review_decision(status="cleared", note="  ok ", choices=["cleared"], invalid_code="X") == "ok"
    with pytest.raises(ValidationFailed) as invalid:
        domain.check_review_decision(status="maybe", note="why", choices=["cleared"], invalid_code="HIT_STATUS_INVALID")
    assert invalid.value.code == "HIT_STATUS_INVALID"
    with pytest.raises(ValidationFailed) as silent:
        domain.check_review_decision(status="cleared", note=" ", choices=["cleared"], invalid_code="X")
    assert silent.value.code == "REASON_REQUIRED"
