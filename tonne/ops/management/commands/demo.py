"""tonne demo: a fresh, believable demo registry, built through the same
service functions as everything else."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection

from tonne.article6 import international
from tonne.article6 import services as a6
from tonne.article6.models import Authorisation, AuthorisedRange
from tonne.controls import destinations
from tonne.controls import services as controls
from tonne.controls.models import Approval
from tonne.core import clock, training
from tonne.kyc import services as kyc
from tonne.kyc.testing import verified_kyc
from tonne.ledger.services import make_checkpoint
from tonne.methodologies import selectors as methodology_catalogue
from tonne.mrv import services as mrv
from tonne.mrv import verification as mrv_verification
from tonne.mrv.demo_data import load_dmrv_demo
from tonne.organisations import services as orgs
from tonne.organisations.models import Organisation
from tonne.projects import services as projects
from tonne.units import services as units
from tonne.units.domain import Selection
from tonne.units.models import Transaction, UnitBlock

DEMO_PASSWORD = "tonne-demo-2026!"


class Command(BaseCommand):
    help = "Load a demo registry (a government, two developers, a VVB, a buyer, projects, issuances, trades)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--reset", action="store_true", help="SQLite only: delete the database first and start afresh"
        )
        parser.add_argument(
            "--training", action="store_true",
            help="build a training sandbox: every page, certificate and API answer says so, for good, and the "
                 "workspace guides each role's first journey",
        )

    def handle(self, *args: object, **options: object) -> None:
        if options["reset"]:
            if connection.vendor != "sqlite":
                raise CommandError("--reset deletes the database file and works on SQLite only.")
            path = settings.DATABASES["default"]["NAME"]
            connection.close()
            for suffix in ("", "-wal", "-shm"):
                try:
                    __import__("os").remove(f"{path}{suffix}")
                except FileNotFoundError:
                    pass
        call_command("migrate", verbosity=0)

        if Organisation.objects.exists():
            # Never marks a registry that holds data: a live registry must not become a sandbox.
            self.stdout.write("The registry already holds data; demo not loaded (use --reset on SQLite to start afresh).")
            return
        if options["training"]:
            training.mark_training()
        build_demo(self.stdout.write)
        if options["training"]:
            self.stdout.write("\nThis is a TRAINING sandbox: its pages, certificates and API answers say so.")
        self.stdout.write(
            "\nDemo registry loaded. Sign in with any of these users and the password "
            f"{DEMO_PASSWORD!r}:\n"
            "  root      installation root (registry administrator)\n"
            "  admin     Ministry of Environment, registry administrator\n"
            "  mangrove  Mangrove Futures (project developer)\n"
            "  solar     Sahel Solar (project developer)\n"
            "  verifier  Veritas Carbone (VVB)\n"
            "  buyer     Abidjan Carbon Exchange (buyer / trader)\n"
            "  admin-approver, mangrove-approver, solar-approver, buyer-approver: the second persons\n"
            "  who approve (four-eyes). Everyone who can move units or approve sets up a second\n"
            "  factor (authenticator app or security key) at first sign-in.\n"
        )


def _at(day: dt.date, hour: int = 10) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, tzinfo=dt.UTC)


def build_demo(say=print) -> None:  # noqa: ANN001

    country = settings.TONNE_COUNTRY
    today = dt.date.today()
    start = dt.date(today.year - 4, 1, 10)
    clock.freeze(_at(start))
    try:
        root = orgs.create_user(
            actor=None, organisation=None, username="root", email="root@demo.tonne", password=DEMO_PASSWORD, is_root=True
        )

        def org(name, kind, **kw):  # noqa: ANN001, ANN202, ANN003
            o = orgs.apply_for_organisation(actor=None, name=name, kind=kind, country=kw.pop("country", country), **kw)
            return orgs.decide_organisation(actor=root, organisation=o, status="approved", reason="KYC documents checked")

        gov = org("Ministry of Environment", Organisation.Kind.GOVERNMENT, contact_email="registry@environnement.demo")
        # The installation's first people come from the command line, as
        # `tonne createadmin` makes them: root and the first administrator.
        admin = orgs.create_user(
            actor=None, organisation=gov, username="admin", email="admin@demo.tonne", password=DEMO_PASSWORD, role="admin"
        )

        def user(org, name, role="admin", actor=admin, approver=root):  # noqa: ANN001, ANN202
            """Everyone else as at run time: one person nominates, another approves."""
            made = orgs.create_user(
                actor=actor, organisation=org, username=name, email=f"{name}@demo.tonne", password=DEMO_PASSWORD, role=role
            )
            request = controls.pending_representative_change(made)
            if request is not None:
                controls.approve(actor=approver, uid=request.uid, request_hash=request.request_hash)
                made.refresh_from_db()
            return made

        user(gov, "auditor", role="viewer", actor=root)
        ministry = org("Ministry of Energy", Organisation.Kind.MINISTRY)
        user(ministry, "energy", role="viewer")
        mangrove = org("Mangrove Futures", Organisation.Kind.DEVELOPER, website="https://mangrove.demo")
        solar = org("Sahel Solar", Organisation.Kind.DEVELOPER)
        vvb_org = org("Veritas Carbone", Organisation.Kind.VVB, country="FR")
        vvb_org = orgs.set_accreditation(actor=admin, organisation=vvb_org, accredited=True)
        buyer_org = org("Abidjan Carbon Exchange", Organisation.Kind.TRADER)
        # The administrator opens each holder with its first representative; root approves.
        dev = user(mangrove, "mangrove")
        dev2 = user(solar, "solar")
        vvb = user(vvb_org, "verifier")
        buyer = user(buyer_org, "buyer")
        user(buyer_org, "buyer-viewer", role="viewer", actor=buyer)
        # Second persons for four-eyes approval: root nominates the second
        # administrator (admin approves); each holder nominates its own (the
        # registry administrator approves, as in the EU Union Registry).
        approvers = {gov.pk: user(gov, "admin-approver", role="approver", actor=root, approver=admin)}
        for o, name, nominee in ((mangrove, "mangrove", dev), (solar, "solar", dev2), (buyer_org, "buyer", buyer)):
            approvers[o.pk] = user(o, f"{name}-approver", role="approver", actor=nominee, approver=admin)
        pending = orgs.apply_for_organisation(actor=None, name="Cocoa Agroforestry Coop", kind="developer", country=country)

        for holder in (mangrove, solar, buyer_org):  # verified KYC: their accounts may transfer
            verified_kyc(holder, admin)
        dev_acc = orgs.open_holding_account(actor=dev, organisation=mangrove, name="Mangrove Futures main")
        solar_acc = orgs.open_holding_account(actor=dev2, organisation=solar, name="Sahel Solar main")
        buyer_acc = orgs.open_holding_account(actor=buyer, organisation=buyer_org, name="Exchange trading")
        buyer_client = orgs.open_holding_account(actor=buyer, organisation=buyer_org, name="Client custody")
        for code, name, mtype in (
            ("AR-AM0014", "Afforestation and reforestation of degraded mangrove habitats", "Removal - nature"),
            ("ACM0002", "Grid-connected electricity generation from renewable sources", "Avoidance - technical"),
            ("AMS-II.G", "Energy efficiency measures in thermal applications of non-renewable biomass", "Reduction - technical"),
        ):
            projects.add_methodology(actor=admin, code=code, name=name, type=mtype, version="1.0")
        for m in methodology_catalogue.every():  # the methodologies the registry computes are on its list too
            mtype = "Removal - nature" if m.kind == "removal" else "Reduction - technical"
            projects.add_methodology(
                actor=admin, code=m.code, name=m.title, type=mtype, version=m.version, link=m.reference
            )
        say(f"organisations, users and accounts created; {pending.name} is awaiting approval")

        def project(actor, vvb_uid, **fields):  # noqa: ANN001, ANN202, ANN003
            return projects.register_project(actor=actor, data=fields, vvb=vvb_uid)

        def advance(p, *steps):  # noqa: ANN001, ANN202
            for status, who in steps:
                clock.freeze(clock.now() + dt.timedelta(days=9))
                p = projects.change_project_status(actor=who, project=p, status=status)
            return p

        vvb_uid = str(vvb_org.uid)
        mangroves = project(
            dev, vvb_uid,
            name="Ebrié Lagoon mangrove restoration",
            description="Replanting 2,400 ha of mangroves around the Ebrié Lagoon with 14 fishing communities.",
            sectors=["Afforestation and reforestation"], types=["Afforestation"], sectoral_scope=14,
            unit_type="Removal - nature", unit_class="VER", non_permanence_risk="medium", buffer_basis_points=1500,
            ndc_coverage="inside", link="https://mangrove.demo/ebrie",
            crediting_period_start=f"{start.year}-01-01", crediting_period_end=f"{start.year + 29}-12-31",
            benefit_sharing_plan="40 % of proceeds to the community fund.",
            consent_evidence="FPIC minutes of 14 village assemblies.", grievance_contact="grievances@mangrove.demo",
            locations=[{"country": "Cote d'Ivoire", "region": "Lagunes", "gis": '{"type":"Point","coordinates":[-4.03,5.32]}', "map_type": "GeoJSON"}],
            estimations=[{"start_date": f"{start.year}-01-01", "end_date": f"{start.year}-12-31", "unit_count": 42000}],
            co_benefits=[{"co_benefit": "SDG 14 - Life below water"}, {"co_benefit": "SDG 15 - Life on land"}],
            stakeholders=[{"name": "Mangrove Futures", "type": "Developer"}],
            methodologies=[{"code": "AR-AM0014"}],
        )
        clock.freeze(clock.now() + dt.timedelta(days=2))
        projects.upload_document(
            actor=dev, project=mangroves, kind="design", title="Project design document v1.2",
            filename="ebrie-pdd-v1.2.pdf", content=b"%PDF-1.4 demo project design document for the Ebrie Lagoon project\n",
            content_type="application/pdf",
        )
        mangroves = advance(mangroves, ("submitted", dev), ("approved", admin), ("validated", vvb), ("registered", admin))
        solar_park = project(
            dev2, vvb_uid,
            name="Korhogo 25 MW solar park",
            description="Grid-connected photovoltaic plant displacing thermal generation, registered under the "
                        "Article 6.4 mechanism (PACM).",
            sectors=["Energy industries (renewable-/ non renewable sources)"], types=["Solar"], unit_class="A6.4ER",
            sectoral_scope=1, unit_type="Avoidance - technical", ndc_coverage="inside", article6_status="requested",
            locations=[{"country": "Cote d'Ivoire", "region": "Savanes", "gis": "9.45,-5.63"}],
            methodologies=[{"code": "ACM0002"}],
            co_benefits=[{"co_benefit": "SDG 13 - Climate action"}],
        )
        solar_park = advance(solar_park, ("submitted", dev2), ("approved", admin), ("validated", vvb), ("registered", admin))
        authorisation = _authorise_article6(admin, approvers[gov.pk], solar_park, [solar, buyer_org], start.year + 1)
        stoves = project(
            dev, vvb_uid,
            name="Bouaké efficient cookstoves", description="40,000 improved cookstoves for households around Bouaké.",
            sectors=["Energy demand"], types=["Energy Efficiency households"], sectoral_scope=3,
            unit_type="Reduction - technical", locations=[{"country": "Cote d'Ivoire", "region": "Vallée du Bandama"}],
            methodologies=[{"code": "AMS-II.G"}],
        )
        stoves = advance(stoves, ("submitted", dev))
        project(
            dev2, vvb_uid, name="Man highlands biogas", description="Household biodigesters (draft).",
            sectors=["Agriculture"], types=["Biogas"], sectoral_scope=15,
            locations=[{"country": "Cote d'Ivoire", "region": "Montagnes"}],
        )
        hold = project(
            dev2, vvb_uid, name="San-Pédro landfill gas", description="Landfill gas capture and flaring.",
            sectors=["Waste handling and disposal"], types=["Landfill gas"], sectoral_scope=13,
            locations=[{"country": "Cote d'Ivoire", "region": "Bas-Sassandra"}],
        )
        hold = advance(hold, ("submitted", dev2), ("approved", admin))
        clock.freeze(clock.now() + dt.timedelta(days=3))
        projects.change_project_status(actor=admin, project=hold, status="on_hold", reason="Land tenure dispute under review")
        say("projects registered in several states")

        def issue(p, actor, year, quantity, month):  # noqa: ANN001, ANN202
            clock.freeze(_at(dt.date(year + 1, month, 15)))
            report = mrv.submit_report(
                actor=actor, project=p, period_start=dt.date(year, 1, 1), period_end=dt.date(year, 12, 31),
                vintages=[{"vintage": year, "quantity": quantity}], vvb=vvb_uid,
            )
            clock.freeze(clock.now() + dt.timedelta(days=20))
            mrv_verification.accept_assignment(actor=vvb, report=report, no_conflict_of_interest=True)
            report = mrv.verify_report(actor=vvb, report=report, verified=[{"vintage": year, "quantity": quantity - 250}])
            clock.freeze(clock.now() + dt.timedelta(days=5))
            if "issuance" in settings.TONNE_FOUR_EYES:  # one administrator asks, another approves

                request = controls.request_issuance(actor=admin, report_uid=report.uid)
                controls.approve(actor=approvers[gov.pk], uid=request.uid, request_hash=request.request_hash)
            else:
                mrv.approve_issuance(actor=admin, report=report)

        # Year by year, so that the ledger's history runs forward in time.
        for i, year in enumerate(range(start.year, start.year + 3)):
            issue(mangroves, dev, year, 30000 + 1000 * i, month=3)
            if i:
                issue(solar_park, dev2, year, 18000 + 1000 * (i - 1), month=4)
        say("issuances over several vintages, with buffer contributions")

        def approved(txn):  # noqa: ANN001, ANN202
            """The second person of the initiator's organisation approves, as the controls require."""

            approval = Approval.objects.filter(transaction_id=txn.pk, status=Approval.Status.PENDING).first()
            if approval is not None:
                controls.approve(actor=approvers[txn.organisation_id], uid=approval.uid, request_hash=approval.request_hash)
            return txn

        def settle_due() -> None:
            controls.run_due()

        key = iter(range(1, 1000))
        clock.freeze(_at(dt.date(start.year + 3, 6, 2)))

        for holder in (mangrove, solar, buyer_org):  # the yearly KYC review, just done
            kyc.verify_profile(actor=admin, organisation=holder)
        approved(units.transfer(actor=dev, from_account=dev_acc.identifier, to_account=buyer_acc.identifier,
                                selection=Selection.build(quantity=12000), idempotency_key=f"demo-{next(key)}"))
        approved(units.transfer(actor=dev2, from_account=solar_acc.identifier, to_account=buyer_acc.identifier,
                                selection=Selection.build(quantity=8000, vintage=start.year + 1),
                                idempotency_key=f"demo-{next(key)}"))
        # Transfers to accounts off the trusted list settle at noon of the next working day.
        clock.freeze(clock.now() + dt.timedelta(days=6))
        settle_due()
        clock.freeze(clock.now() + dt.timedelta(days=6))
        approved(units.transfer(actor=buyer, from_account=buyer_acc.identifier, to_account=buyer_client.identifier,
                                selection=Selection.build(quantity=3500), idempotency_key=f"demo-{next(key)}"))
        clock.freeze(clock.now() + dt.timedelta(days=30))
        settle_due()
        approved(units.retire(actor=buyer, from_account=buyer_client.identifier, selection=Selection.build(quantity=2500),
                     beneficiary="Air Côte d'Ivoire", purpose="corsia", jurisdiction="CI",
                     reason="CORSIA first phase offsetting", idempotency_key=f"demo-{next(key)}"))
        approved(units.retire(actor=buyer, from_account=buyer_acc.identifier, selection=Selection.build(quantity=1200),
                     beneficiary="Banque Atlantique", purpose="voluntary", reason="2025 operational emissions",
                     idempotency_key=f"demo-{next(key)}"))
        approved(units.retire(actor=dev, from_account=dev_acc.identifier, selection=Selection.build(quantity=500),
                     beneficiary="Mangrove Futures", purpose="voluntary", reason="Own footprint",
                     idempotency_key=f"demo-{next(key)}"))
        approved(units.cancel(actor=dev2, from_account=solar_acc.identifier, selection=Selection.build(quantity=300),
                     reason="Double registration found with a voluntary programme; cancelled to avoid double counting",
                     idempotency_key=f"demo-{next(key)}"))
        clock.freeze(clock.now() + dt.timedelta(days=40))
        approved(units.reverse(actor=admin, project=mangroves.project_id, quantity=900,
                      reason="Storm damage on 60 ha reported in monitoring", idempotency_key=f"demo-{next(key)}"))
        say("transfers, retirements, a cancellation and a reversal recorded")
        clock.freeze(_at(dt.date(start.year + 3, 9, 15)))
        _article6_moves(authorisation, dev2, solar_acc, buyer, buyer_acc, approved, key)
        say(f"Article 6: authorisation {authorisation.identifier} (acquiring Party CH), A6.4ERs issued with share of "
            "proceeds and OMGE, first transferred at issuance, an international transfer to CH and a use towards "
            "CH's NDC")

        controls.request_trusted_addition(actor=dev, account=dev_acc.identifier, trusted=buyer_acc.identifier)
        say("a trusted-list addition waits for mangrove-approver; approvers: admin-approver, mangrove-approver, "
            "solar-approver, buyer-approver")
    finally:
        clock.freeze(None)

    for holder in (mangrove, solar, buyer_org):  # reviewed today, so the live demo can trade
        kyc.verify_profile(actor=admin, organisation=holder)
    load_dmrv_demo(admin=admin, admin_approver=approvers[gov.pk], solar_developer=dev2, mangrove_developer=dev,
                   vvb=vvb, say=say)
    checkpoint = make_checkpoint(force=True)
    say(f"ledger checkpoint signed at size {checkpoint.size if checkpoint else 0}")


# -- Article 6 ------------------------------------------------------------------------------


def _authorise_article6(admin, approver, project, entities, year):  # noqa: ANN001, ANN201
    """The host Party authorises the solar park's A6.4ERs for use towards
    Switzerland's NDC; the first transfer is their issuance."""

    country = settings.TONNE_COUNTRY
    letter = projects.upload_document(
        actor=admin, project=None, kind="letter", title="Letter of authorisation, Korhogo solar park",
        filename="loa-korhogo-ch.pdf", content=b"%PDF-1.4 demo letter of authorisation: Korhogo solar park, CH NDC\n",
        content_type="application/pdf",
    )
    approval = a6.request_authorisation(actor=admin, data={
        "identifier": f"{country}-LOA-{year}-001",
        "cooperative_approach": "PACM",
        "first_transfer_definition": "issuance",
        "acquiring_parties": ["CH"],
        "purposes": ["ndc"],
        "quantity": 10000,
        "vintage_from": year,
        "vintage_to": year + 1,
        "projects": [project.project_id],
        "entities": [str(o.uid) for o in entities],
        "authorisation_date": clock.now().date().isoformat(),
        "terms": "A6.4ERs for use towards the NDC of Switzerland; corresponding adjustment at first transfer.",
        "letter": str(letter.uid),
    })
    clock.freeze(clock.now() + dt.timedelta(days=1))
    controls.approve(actor=approver, uid=approval.uid, request_hash=approval.request_hash)
    return Authorisation.objects.get(identifier=approval.payload["identifier"])


def _authorised_held(authorisation, account, quantity):  # noqa: ANN001, ANN202
    """The first `quantity` units of the authorisation the account holds, as serial ranges."""

    out, need = [], quantity
    for r in AuthorisedRange.objects.filter(authorisation=authorisation).order_by("serial_start"):
        blocks = UnitBlock.objects.filter(account=account, serial_start__lte=r.serial_end, serial_end__gte=r.serial_start)
        for b in blocks.order_by("serial_start"):
            lo = max(b.serial_start, r.serial_start)
            take = min(min(b.serial_end, r.serial_end) - lo + 1, need)
            out.append((lo, lo + take - 1))
            need -= take
            if need == 0:
                return out
    raise CommandError(f"{account.identifier} holds fewer than {quantity} units of {authorisation.identifier}.")


def _article6_moves(authorisation, seller, seller_acc, buyer, buyer_acc, approved, key):  # noqa: ANN001, ANN202
    """An international transfer to Switzerland's registry (signed transfer
    file), to a destination the seller trusted first, approved by its second
    person; and a use towards Switzerland's NDC."""

    trusted = destinations.request_addition(actor=seller, account=seller_acc.identifier, party="CH",
                                            registry="CH-TONNE", destination_account="CH-100-1001")
    if isinstance(trusted, Approval):  # four-eyes on the trusted list: the seller's approver
        second = seller.organisation.users.filter(role="approver").exclude(pk=seller.pk).first()
        controls.approve(actor=second, uid=trusted.uid, request_hash=trusted.request_hash)
    clock.freeze(clock.now() + dt.timedelta(days=7))  # the trusted-list delay
    sent = international.export_units(
        actor=seller, from_account=seller_acc.identifier, ranges=_authorised_held(authorisation, seller_acc, 1500),
        destination_party="CH", destination_registry="CH-TONNE", destination_account="CH-100-1001",
        idempotency_key=f"demo-{next(key)}",
    )
    approved(Transaction.objects.get(identifier=sent.transaction_identifier))
    clock.freeze(clock.now() + dt.timedelta(days=7))
    approved(a6.use_units(
        actor=buyer, from_account=buyer_acc.identifier,
        selection=Selection.build(ranges=_authorised_held(authorisation, buyer_acc, 1000)),
        use="ndc", using_party="CH", using_entity="Foundation for Climate Protection and Carbon Offset KliK",
        idempotency_key=f"demo-{next(key)}",
    ))
