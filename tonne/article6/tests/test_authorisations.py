"""Authorisations: proposed by one administrator, approved by another;
changes and revocations take effect at a stated moment; bad terms are
refused with a stable code and change nothing."""

from __future__ import annotations

import datetime as dt

import pytest

from tonne import testing
from tonne.article6 import services as a6
from tonne.article6.models import Authorisation, AuthorisationVersion
from tonne.article6.tests.conftest import T0
from tonne.controls import services as controls
from tonne.controls.models import Approval
from tonne.core import clock
from tonne.core.errors import Conflict, PermissionDenied, ValidationFailed
from tonne.ledger.models import LedgerEntry

pytestmark = pytest.mark.django_db


def test_authorisation_needs_a_second_administrator(world):
    approval = a6.request_authorisation(actor=world.reg.admin, data=world.terms())
    assert approval.status == Approval.Status.PENDING
    assert not Authorisation.objects.exists()  # nothing in force before the approval
    with pytest.raises(PermissionDenied) as exc:
        controls.approve(actor=world.reg.admin, uid=approval.uid, request_hash=approval.request_hash)
    assert exc.value.code == "SELF_APPROVAL_NOT_ALLOWED"
    world.approve(approval)
    authorisation = Authorisation.objects.get()
    assert authorisation.identifier == "CI-A6-2026-001"
    assert authorisation.authorising_party == "CI"
    assert authorisation.first_transfer_definition == "first_international_transfer"
    version = authorisation.versions.get()
    assert (version.version, version.quantity, version.vintage_from, version.vintage_to) == (1, 5000, 2024, 2025)
    assert version.requested_by == world.reg.admin and version.approved_by == world.approver
    assert version.sole_acquiring_party == "CH"
    assert version.entities == [{"uid": str(world.reg.developer_org.uid), "name": world.reg.developer_org.name, "country": "CI"}]
    entry = LedgerEntry.objects.get(seq=version.ledger_seq)
    assert entry.kind == "article6.authorised"


def test_letter_of_authorisation_is_recorded_by_its_hash(world):
    letter = world.letter()
    authorisation = world.authorise(letter=letter)
    version = authorisation.versions.get()
    import hashlib

    assert version.letter_sha256 == hashlib.sha256(b"%PDF-1.4 letter of authorisation").hexdigest()
    entry = LedgerEntry.objects.get(seq=version.ledger_seq)
    assert version.letter_sha256 in entry.body


def test_only_the_registry_administrator_authorises(world):
    with pytest.raises(PermissionDenied):
        a6.request_authorisation(actor=world.reg.developer, data=world.terms())
    assert not Approval.objects.exists()


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"acquiring_parties": ["Switzerland"]}, "PARTY_INVALID"),
        ({"purposes": []}, "PURPOSES_INVALID"),
        ({"purposes": ["corsia"]}, "PURPOSES_INVALID"),
        ({"purposes": ["oimp"]}, "OIMP_PURPOSES_REQUIRED"),
        ({"acquiring_parties": []}, "ACQUIRING_PARTY_REQUIRED"),
        ({"first_transfer_definition": "whenever"}, "FIRST_TRANSFER_DEFINITION_INVALID"),
        ({"vintage_from": 2025, "vintage_to": 2024}, "VINTAGES_INVALID"),
        ({"quantity": 0}, "FIELD_OUT_OF_RANGE"),
        ({"quantity": "12.5"}, "FIELD_INVALID"),
        ({"projects": ["CI-9999"]}, "PROJECT_NOT_FOUND"),
        ({"projects": []}, "PROJECTS_REQUIRED"),
        ({"entities": ["00000000-0000-0000-0000-000000000000"]}, "ENTITY_NOT_FOUND"),
        ({"letter": "00000000-0000-0000-0000-000000000000"}, "LETTER_NOT_FOUND"),
        ({"authorisation_date": "01/02/2026"}, "FIELD_INVALID"),
        ({"identifier": ""}, "IDENTIFIER_INVALID"),
    ],
)
def test_bad_terms_are_refused_and_change_nothing(world, overrides, code):
    with pytest.raises(ValidationFailed) as exc:
        a6.request_authorisation(actor=world.reg.admin, data=world.terms(**overrides))
    assert exc.value.code == code
    assert not Approval.objects.exists()


def test_identifier_is_unique(world):
    world.authorise()
    with pytest.raises(Conflict) as exc:
        a6.request_authorisation(actor=world.reg.admin, data=world.terms())
    assert exc.value.code == "AUTHORISATION_EXISTS"


def test_changes_take_effect_at_their_moment(world):
    authorisation = world.authorise()
    later = T0 + dt.timedelta(days=10)
    terms = world.terms(quantity=8000, acquiring_parties=["CH", "SE"])
    for fixed in ("identifier", "cooperative_approach", "first_transfer_definition"):
        terms.pop(fixed)
    approval = a6.request_change(actor=world.reg.admin, identifier=authorisation.identifier, data=terms, effective_from=later)
    assert authorisation.versions.count() == 1
    world.approve(approval)
    assert a6.version_in_force(authorisation, T0).version == 1
    assert a6.version_in_force(authorisation, later).version == 2
    v2 = AuthorisationVersion.objects.get(authorisation=authorisation, version=2)
    assert v2.quantity == 8000 and v2.sole_acquiring_party == ""
    assert LedgerEntry.objects.filter(kind="article6.changed").count() == 1


def test_definition_and_approach_are_fixed(world):
    authorisation = world.authorise()
    with pytest.raises(ValidationFailed) as exc:
        a6.request_change(actor=world.reg.admin, identifier=authorisation.identifier,
                          data={**world.terms(), "identifier": None} | {"first_transfer_definition": "issuance"})
    assert exc.value.code == "AUTHORISATION_FIELD_FIXED"


def test_change_cannot_take_effect_in_the_past(world):
    authorisation = world.authorise()
    terms = {k: v for k, v in world.terms().items() if k not in ("identifier", "cooperative_approach", "first_transfer_definition")}
    with pytest.raises(ValidationFailed) as exc:
        a6.request_change(actor=world.reg.admin, identifier=authorisation.identifier, data=terms,
                          effective_from=(T0 - dt.timedelta(days=1)).isoformat())
    assert exc.value.code == "EFFECTIVE_DATE_IN_PAST"


def test_revocation_takes_effect_at_its_moment(world):
    authorisation = world.authorise()
    with pytest.raises(ValidationFailed) as exc:
        a6.request_revocation(actor=world.reg.admin, identifier=authorisation.identifier, reason=" ")
    assert exc.value.code == "REASON_REQUIRED"
    later = T0 + dt.timedelta(days=5)
    approval = a6.request_revocation(actor=world.reg.admin, identifier=authorisation.identifier, reason="Withdrawn", effective_from=later)
    authorisation.refresh_from_db()
    assert authorisation.status == "active"
    world.approve(approval)
    authorisation.refresh_from_db()
    assert authorisation.status == "revoked" and authorisation.revoked_from == later
    assert a6.in_force(authorisation, T0) and not a6.in_force(authorisation, later)
    with pytest.raises(Conflict):
        a6.request_revocation(actor=world.reg.admin, identifier=authorisation.identifier, reason="again")


def test_unknown_authorisation(world):
    from tonne.core.errors import NotFound

    with pytest.raises(NotFound) as exc:
        a6.request_revocation(actor=world.reg.admin, identifier="nope", reason="x")
    assert exc.value.code == "AUTHORISATION_NOT_FOUND"


def test_issuance_attaches_authorisation(world):
    world.authorise(quantity=600)
    clock.freeze(T0 + dt.timedelta(hours=1))
    _, issuances = testing.issue(world.reg, world.project, {2024: 1000})
    from tonne.article6.models import AuthorisedRange

    (r,) = AuthorisedRange.objects.all()
    assert (r.serial_start, r.serial_end) == (issuances[0].serial_start, issuances[0].serial_start + 599)
