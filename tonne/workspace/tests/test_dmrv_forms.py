"""The workspace's forms for data sources (with calibrations and keys) and
for benefit sharing (plan, payments, consent, grievances): they reach the
same services as the API, refuse in the reader's words beside the field,
change nothing when they refuse, and only the right people may post them."""

from __future__ import annotations

from django.test import Client

from tonne import testing
from tonne.ledger.models import LedgerEntry
from tonne.mrv.models import Calibration, DataSource
from tonne.projects import services as projects
from tonne.projects.models import BenefitShare, ConsentRecord, Disbursement, Grievance

KEY = "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c"


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _doc(reg, project, name):
    return projects.upload_document(actor=reg.developer, project=project, kind="other", title=name, filename=name,
                                    content=name.encode())


def test_register_a_source_and_its_calibration(registry) -> None:
    project = testing.registered_project(registry)
    base = f"/workspace/projects/{project.project_id}/data/"
    dev = _client(registry.developer)
    assert f'href="{base}sources/new/"' in dev.get(base).content.decode()
    form = {"identifier": "METER-A-01", "kind": "meter", "measurement": "electricity_export", "unit": "MWh",
            "location": "Feeder 2", "public_key": "not-a-key", "min_value": "10", "max_value": "5"}
    refused = dev.post(base + "sources/new/", form)
    html = refused.content.decode()
    assert refused.status_code == 400 and not DataSource.objects.exists()
    assert "A public key is 64 hexadecimal characters" in html
    assert "The highest plausible reading is below the lowest." in html
    entries = LedgerEntry.objects.count()
    done = dev.post(base + "sources/new/", {**form, "public_key": KEY.upper(), "max_value": "900",
                                            "expected_interval_seconds": "900"})
    source = DataSource.objects.get()
    assert done.status_code == 302 and done["Location"].endswith(f"sources/{source.uid}/calibrations/")
    assert (source.public_key, source.min_value, source.expected_interval_seconds) == (KEY, 10, 900)
    assert LedgerEntry.objects.filter(kind="mrv.source_registered").count() == 1
    assert LedgerEntry.objects.count() == entries + 1
    # The same identifier again: the service's refusal, in words, beside the field.
    again = dev.post(base + "sources/new/", {**form, "public_key": KEY, "max_value": "900"})
    assert "This project already has a data source with that identifier. (SOURCE_EXISTS)" in again.content.decode()
    # Calibration: dates in the wrong order, then right.
    url = base + f"sources/{source.uid}/calibrations/"
    doc = _doc(registry, project, "calibration-2024.pdf")
    wrong = dev.post(url, {"document": str(doc.uid), "valid_from": "2024-12-31", "valid_until": "2024-01-01"})
    assert wrong.status_code == 400 and "cannot end before it starts" in wrong.content.decode()
    assert dev.post(url, {"document": str(doc.uid), "valid_from": "2024-01-01", "valid_until": "2024-12-31"}).status_code == 302
    assert Calibration.objects.get().document == doc
    # Others: a VVB may not register; another developer does not see the project; anonymous signs in.
    assert _client(registry.vvb).post(base + "sources/new/", {**form, "identifier": "X"}).status_code == 403
    assert _client(registry.other_developer).get(base + "sources/new/").status_code == 404
    assert Client().get(base + "sources/new/").status_code == 302
    assert DataSource.objects.count() == 1


def test_benefit_plan_payments_consent_and_grievances(registry, settings) -> None:
    settings.TONNE_BENEFIT_MINIMUM_BASIS_POINTS = {"Afforestation": 1000}
    project = testing.registered_project(registry)
    url = f"/workspace/projects/{project.project_id}/benefits/"
    dev = _client(registry.developer)
    page = dev.get(url)
    assert page.status_code == 200 and "at least 10 % for communities" in page.content.decode()
    management = {"share-TOTAL_FORMS": "2", "share-INITIAL_FORMS": "0"}
    units = {"share-0-beneficiary": "Lagoon villages", "share-0-beneficiary_kind": "community", "share-0-basis": "units",
             "share-0-percent": "5", "share-0-frequency": "per_issuance",
             "share-0-account": registry.buyer_account.identifier}
    # A unit share without its account: refused beside the field, in words.
    html = dev.post(url + "plan/", {**management, **units, "share-0-account": ""}).content.decode()
    assert "goes to the beneficiary&#x27;s holding account" in html
    # Below the country's minimum: the service refuses, the page says by how much.
    html = dev.post(url + "plan/", {**management, **units}).content.decode()
    assert "at least 10 % on this type of project; this plan gives them 5 %. (BENEFIT_SHARE_BELOW_MINIMUM)" in html
    more = {"share-1-beneficiary": "Fund", "share-1-beneficiary_kind": "fund", "share-1-basis": "units",
            "share-1-percent": "96", "share-1-frequency": "per_issuance",
            "share-1-account": registry.buyer_account.identifier}
    html = dev.post(url + "plan/", {**management, **units, **more, "share-0-percent": "10"}).content.decode()
    assert "The shares of units add up to more than 100 %. (SHARES_EXCEED_WHOLE)" in html
    assert not BenefitShare.objects.exists()
    money = {"share-1-beneficiary": "Lagoon villages", "share-1-beneficiary_kind": "community", "share-1-basis": "proceeds",
             "share-1-percent": "10", "share-1-frequency": "quarterly", "share-1-currency": "xof",
             "share-1-planned_amount": "1000000", "share-1-first_due": "2024-01-31"}
    assert dev.post(url + "plan/", {**management, **units, **money}).status_code == 302
    unit_share, money_share = BenefitShare.objects.filter(active=True).order_by("id")
    assert (unit_share.share_basis_points, money_share.currency, money_share.share_basis_points) == (500, "XOF", 1000)
    # A payment with its evidence; a wrong currency first.
    evidence = _doc(registry, project, "receipt.pdf")
    pay = {"share": str(money_share.uid), "amount": "1000000", "currency": "EUR", "paid_on": "2024-02-10",
           "evidence": str(evidence.uid)}
    html = dev.post(url + "disbursements/", pay).content.decode()
    assert "This share is planned in another currency. (CURRENCY_MISMATCH)" in html and not Disbursement.objects.exists()
    assert dev.post(url + "disbursements/", {**pay, "currency": "XOF"}).status_code == 302
    assert Disbursement.objects.get().amount == 1000000
    # Consent evidence and a grievance, then its outcome.
    fpic = _doc(registry, project, "fpic.pdf")
    assert dev.post(url + "consents/", {"community": "Ahua", "obtained_on": "2021-06-01",
                                        "document": str(fpic.uid)}).status_code == 302
    assert ConsentRecord.objects.get().community == "Ahua"
    admin = _client(registry.admin)
    assert admin.post(url + "grievances/", {"received_on": "2024-03-01", "channel": "community meeting",
                                            "summary": "Fishing access blocked"}).status_code == 302
    grievance = Grievance.objects.get()
    status_url = url + f"grievances/{grievance.uid}/"
    html = dev.post(status_url, {f"g-{grievance.uid}-status": "resolved"}).content.decode()
    assert "Say how the grievance was resolved" in html
    assert dev.post(status_url, {f"g-{grievance.uid}-status": "resolved",
                                 f"g-{grievance.uid}-resolution": "Path reopened"}).status_code == 302
    grievance.refresh_from_db()
    assert (grievance.status, grievance.resolution) == ("resolved", "Path reopened")
    page = dev.get(url).content.decode()
    assert "Path reopened" in page and "1000000" in page
    # Only the developer writes the plan; the VVB reads the page; the buyer is no party.
    vvb = _client(registry.vvb)
    assert vvb.post(url + "plan/", {**management, **units, **money}).status_code == 403
    assert vvb.post(url + "grievances/", {"received_on": "2024-03-01", "channel": "x", "summary": "y"}).status_code == 403
    assert _client(registry.buyer).get(url).status_code == 403
    assert _client(registry.other_developer).get(url).status_code == 404


def test_the_forms_and_public_pages_speak_french_and_spanish(registry) -> None:
    project = testing.registered_project(registry)
    dev = _client(registry.developer)
    expected = {
        "fr": ("Enregistrer une source de données", "Une clé publique compte 64 caractères hexadécimaux",
               "Partage des bénéfices de", "Méthodologies que calcule le registre"),
        "es": ("Registrar una fuente de datos", "Una clave pública tiene 64 caracteres hexadecimales",
               "Reparto de beneficios de", "Metodologías que calcula el registro"),
    }
    for language, (title, refusal, benefits, catalogue) in expected.items():
        dev.cookies["django_language"] = language
        base = f"/workspace/projects/{project.project_id}/"
        assert title in dev.get(base + "data/sources/new/").content.decode()
        assert refusal in dev.post(base + "data/sources/new/", {"public_key": "x"}).content.decode()
        assert benefits in dev.get(base + "benefits/").content.decode()
        public = Client()
        public.cookies["django_language"] = language
        assert catalogue in public.get("/methodologies/").content.decode()
