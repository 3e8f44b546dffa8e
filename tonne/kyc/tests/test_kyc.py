"""KYC and sanctions screening: encrypted documents read only by the holder
and the administrator (every read audited), review dates and representatives
that stop transfers, sanctions lists in both formats with fuzzy matching,
and a review queue whose hits stop units moving."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from tonne import testing
from tonne.access.testing import stepped_up
from tonne.audit.models import AuditEvent
from tonne.core import clock
from tonne.core.errors import Conflict, ValidationFailed
from tonne.core.tests.test_api_core import assert_problem, get, post
from tonne.kyc import crypto, domain
from tonne.kyc import services as kyc
from tonne.kyc.models import KycDocument, ScreeningHit
from tonne.kyc.testing import verified_kyc
from tonne.organisations import services as orgs
from tonne.units import services as units
from tonne.units.domain import Selection
from tonne.units.models import Transaction

pytestmark = [pytest.mark.django_db, pytest.mark.controls]
DATA = Path(__file__).parent / "data"


@pytest.fixture
def holders(registry, settings):  # noqa: ANN001, ANN201
    settings.TONNE_FOUR_EYES = frozenset()
    settings.TONNE_DELAY_NON_TRUSTED = False
    project = testing.registered_project(registry)
    testing.issue(registry, project, {2024: 1000})
    testing.make_user(registry.developer_org, "kyc-second", "approver", actor=registry.admin)
    return registry


def transfer(reg, quantity: int = 1) -> Transaction:  # noqa: ANN001
    return units.transfer(
        actor=reg.developer, from_account=reg.developer_account.identifier, to_account=reg.buyer_account.identifier,
        selection=Selection.build(quantity=quantity), idempotency_key=f"kyc-{Transaction.objects.count()}-{quantity}",
    )


# -- matching ----------------------------------------------------------------------------------


def test_names_match_loosely() -> None:
    assert domain.normalise("  Société Générale S.A. ") == "societe generale"
    listed = domain.normalise("Green Lagoon Trading Company Limited")
    assert domain.similarity(domain.normalise("GREEN LAGOON TRADING CO LTD"), listed) == 100
    assert domain.similarity(domain.normalise("Green Lagon Trading"), listed) >= 88  # a typo
    assert domain.similarity(domain.normalise("Sidorov Ivan Petrovich"), domain.normalise("IVAN PETROVICH SIDOROV")) == 100
    assert domain.similarity(domain.normalise("Mangrove Futures"), listed) < 60


def test_both_list_formats_parse() -> None:
    un = list(domain.parse_un_xml((DATA / "un-consolidated-sample.xml").read_bytes()))
    assert [(x.kind, x.name) for x in un] == [
        ("person", "IVAN PETROVICH SIDOROV"),
        ("entity", "GREEN LAGOON TRADING COMPANY LIMITED"),
    ]
    assert un[1].aliases == ["Lagune Verte Négoce"]
    os_rows = list(domain.parse_opensanctions_csv((DATA / "opensanctions-targets-sample.csv").read_bytes()))
    assert os_rows[0].kind == "person" and os_rows[0].aliases == ["M. H. Dubois", "Marie Dubois"]
    with pytest.raises(ValidationFailed):
        list(domain.parse_un_xml(b"<!DOCTYPE x [<!ENTITY a 'b'>]><x>&a;</x>"))  # no entity expansion
    with pytest.raises(ValidationFailed):
        list(domain.parse_opensanctions_csv(b"foo,bar\n1,2\n"))


# -- screening --------------------------------------------------------------------------------


def test_list_update_screens_everyone_and_hits_stop_units(holders) -> None:  # noqa: ANN001
    reg = holders
    verified_kyc(reg.developer_org, reg.admin, owners=[{"name": "Ivan P. Sidorov", "ownership_basis_points": 5100}])
    assert transfer(reg).status == Transaction.Status.COMPLETED
    kyc.load_sanctions_list(actor=reg.admin, source="un", content=(DATA / "un-consolidated-sample.xml").read_bytes())
    hit = ScreeningHit.objects.get(organisation=reg.developer_org)
    assert hit.subject == "Ivan P. Sidorov" and hit.trigger == "list_update" and hit.status == "pending"
    with pytest.raises(ValidationFailed) as exc:
        transfer(reg)
    assert exc.value.code == "SANCTIONS_HIT"
    # Nor can anyone send units to them.
    with pytest.raises(ValidationFailed) as exc:
        units.transfer(actor=reg.buyer, from_account=reg.buyer_account.identifier,
                       to_account=reg.developer_account.identifier, selection=Selection.build(quantity=1),
                       idempotency_key="to-sanctioned")
    assert exc.value.code in ("SANCTIONS_HIT_ACQUIRING", "INSUFFICIENT_UNITS", "KYC_NOT_VERIFIED")
    kyc.decide_hit(actor=reg.admin, hit_id=hit.pk, status="cleared", note="Different person: born 1990, not 1960")
    assert transfer(reg).status == Transaction.Status.COMPLETED
    # A cleared match is not raised again by the next update.
    kyc.load_sanctions_list(actor=reg.admin, source="un", content=(DATA / "un-consolidated-sample.xml").read_bytes())
    assert ScreeningHit.objects.filter(organisation=reg.developer_org, status="pending").count() == 0


def test_onboarding_screens_the_applicant_and_holds_its_approval(holders) -> None:  # noqa: ANN001
    reg = holders
    kyc.load_sanctions_list(actor=reg.admin, source="opensanctions",
                            content=(DATA / "opensanctions-targets-sample.csv").read_bytes())
    org = orgs.apply_for_organisation(actor=None, name="Sahel Carbon Brokers", kind="trader", country="ML")
    hit = ScreeningHit.objects.get(organisation=org)
    assert hit.trigger == "onboarding" and hit.source == "opensanctions"
    with pytest.raises(Conflict) as exc:
        orgs.decide_organisation(actor=reg.admin, organisation=org, status="approved", reason="KYC")
    assert exc.value.code == "SANCTIONS_HIT_UNRESOLVED"
    kyc.decide_hit(actor=reg.admin, hit_id=hit.pk, status="confirmed", note="Listed broker")
    with pytest.raises(Conflict):
        orgs.decide_organisation(actor=reg.admin, organisation=org, status="approved", reason="KYC")


# -- KYC rules before transfers -------------------------------------------------------------------


def test_unverified_or_overdue_kyc_and_missing_representatives_stop_transfers(holders, settings) -> None:  # noqa: ANN001
    reg = holders
    with pytest.raises(ValidationFailed) as exc:
        transfer(reg)
    assert exc.value.code == "KYC_NOT_VERIFIED"
    start = dt.datetime(2026, 3, 3, 9, 0, tzinfo=dt.UTC)
    clock.freeze(start)
    profile = verified_kyc(reg.developer_org, reg.admin)
    assert profile.review_due == dt.date(2027, 3, 3)
    assert transfer(reg).status == Transaction.Status.COMPLETED
    clock.freeze(start + dt.timedelta(days=366))
    with pytest.raises(ValidationFailed) as exc:
        transfer(reg)
    assert exc.value.code == "KYC_REVIEW_OVERDUE"
    kyc.verify_profile(actor=reg.admin, organisation=reg.developer_org)  # the review is done
    assert transfer(reg).status == Transaction.Status.COMPLETED
    settings.TONNE_MIN_REPRESENTATIVES = 3
    with pytest.raises(ValidationFailed) as exc:
        transfer(reg)
    assert exc.value.code == "REPRESENTATIVES_MISSING"


# -- documents -------------------------------------------------------------------------------------


def test_documents_are_encrypted_at_rest_and_every_read_is_audited(holders) -> None:  # noqa: ANN001
    reg = holders
    secret = b"%PDF-1.4 certificate of registration RCCM-CI-ABJ-2020-B-12345"
    dev = stepped_up(reg.developer)
    response = dev.post(
        f"/api/v1/organisations/{reg.developer_org.uid}/kyc/documents",
        {"kind": "registration", "file": SimpleUploadedFile("rccm.pdf", secret, content_type="application/pdf")},
    )
    assert response.status_code == 201, response.content
    uid = response.json()["uid"]
    stored = crypto.stored_path(uid).read_bytes()
    assert secret not in stored and b"RCCM" not in stored
    # Holder and administrator read it; each read is in the audit log.
    assert dev.get(f"/api/v1/kyc/documents/{uid}").content == secret
    admin = stepped_up(reg.admin)
    assert admin.get(f"/api/v1/kyc/documents/{uid}").content == secret
    reads = AuditEvent.objects.filter(category="kyc_document_read", target=uid)
    assert {r.actor_id for r in reads} == {reg.developer.pk, reg.admin.pk}
    # Another organisation, a viewer of the holder, and the public cannot.
    assert_problem(stepped_up(reg.buyer).get(f"/api/v1/kyc/documents/{uid}"), 404, "KYC_DOCUMENT_NOT_FOUND")
    viewer = testing.make_user(reg.developer_org, "kyc-viewer", "viewer", actor=reg.admin)
    v = Client()
    v.force_login(viewer)
    assert_problem(v.get(f"/api/v1/kyc/documents/{uid}"), 404, "KYC_DOCUMENT_NOT_FOUND")
    assert_problem(Client().get(f"/api/v1/kyc/documents/{uid}"), 401, "NOT_AUTHENTICATED")
    assert AuditEvent.objects.filter(category="kyc_document_read", target=uid).count() == 2
    # A file swapped in from another document fails its integrity check.
    other = kyc.upload_document(actor=reg.admin, organisation=reg.developer_org, kind="other", filename="x",
                                content=b"other", content_type="text/plain")
    crypto.stored_path(str(other.uid)).write_bytes(stored)
    with pytest.raises(Exception) as exc:
        kyc.read_document(actor=reg.admin, uid=other.uid)
    assert getattr(exc.value, "code", "") == "KYC_DOCUMENT_CORRUPT"
    assert KycDocument.objects.filter(organisation=reg.developer_org).count() == 2


def test_kyc_api(holders) -> None:  # noqa: ANN001
    reg = holders
    dev = stepped_up(reg.developer)
    body = {
        "legal_name": "Mangrove Futures SA", "registration_country": "ci", "registration_number": "RCCM-1",
        "registered_address": "Abidjan", "beneficial_owners": [{"name": "A. Owner", "ownership_basis_points": 6000},
                                                               {"name": "B. Owner", "ownership_basis_points": 4000}],
    }
    response = dev.put(f"/api/v1/organisations/{reg.developer_org.uid}/kyc", data=body, content_type="application/json")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "submitted" and len(response.json()["beneficial_owners"]) == 2
    too_much = {**body, "beneficial_owners": [{"name": "A", "ownership_basis_points": 6000},
                                              {"name": "B", "ownership_basis_points": 6000}]}
    assert_problem(dev.put(f"/api/v1/organisations/{reg.developer_org.uid}/kyc", data=too_much,
                           content_type="application/json"), 422, "OWNERSHIP_OVER_WHOLE")
    assert_problem(dev.put(f"/api/v1/organisations/{reg.developer_org.uid}/kyc", data={**body, "registration_country": "XX"},
                           content_type="application/json"), 422, "COUNTRY_INVALID")  # two letters, no such country
    assert_problem(get(stepped_up(reg.buyer), f"/organisations/{reg.developer_org.uid}/kyc"), 404,
                   "ORGANISATION_NOT_FOUND")
    assert_problem(post(dev, f"/organisations/{reg.developer_org.uid}/kyc/verify"), 403, "NOT_REGISTRY_ADMINISTRATOR")
    admin = stepped_up(reg.admin)
    assert_problem(post(admin, f"/organisations/{reg.developer_org.uid}/kyc/verify"), 422, "KYC_DOCUMENT_MISSING")
    response = admin.post("/api/v1/sanctions-lists", {"source": "un", "file": SimpleUploadedFile(
        "consolidated.xml", (DATA / "un-consolidated-sample.xml").read_bytes())})
    assert response.status_code == 201 and response.json()["entries"] == 2
    assert get(admin, "/screening-hits", status="pending").json()["count"] == 0
    assert_problem(get(dev, "/screening-hits"), 403, "NOT_REGISTRY_ADMINISTRATOR")
