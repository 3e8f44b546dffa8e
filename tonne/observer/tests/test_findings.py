"""Double counting found across registries, and the reconciliation of each registry."""

from __future__ import annotations

import io

from tonne.observer import selectors, services
from tonne.observer.domain import matching
from tonne.observer.models import Finding
from tonne.observer.tests.conftest import load
from tonne.organisations.models import User

CDM_HEADER = "Completion date,Transaction type,Status,SERIAL RANGE,Unit Type,CP,PARTY CODE,Project number,Total\n"
CANCEL_HEADER = "Completion Date,Transaction Type,Serial Range,Project Identifier,Status,CP (Commitment Period),Unit,Total\n"


def _csv(root: User, text: str, registry: str = "cdm") -> services.FileReport:
    return services.import_file(actor=root, stream=io.BytesIO(text.encode()), filename="x.csv", registry=registry)


def test_gold_standard_rows_carrying_cdm_serials_are_the_cdm_units(root: User) -> None:
    # The CDM issuance behind GS4823's rows (Rwanda, project 7014), and one of another Party with the same numbers.
    _csv(root, CDM_HEADER + "2019-05-02,Issuance (1),4 - Completed,1459975 - 1467609,CER,2,RW,7014,7635\n"
                            "2019-05-02,Issuance (1),4 - Completed,1459975 - 1467609,CER,2,KE,7015,7635\n")
    load(root, "gold-standard/issuances.csv")
    counts = services.find_double_counting(actor=root)
    # Three GS rows, each inside the Rwandan CDM block, which the CDM registry never cancelled:
    # the units are live in both registries.
    moved = list(selectors.findings(kind="moved_uncancelled"))
    assert counts.moved_uncancelled == len(moved) == 3 and counts.serial_overlap == 0
    assert {(f.registry_a, f.registry_b, f.series) for f in moved} == {("cdm", "gold-standard", "kyoto:RW")}
    assert sum(f.quantity for f in moved) == 7635
    duplicate = selectors.findings(kind="duplicate_project").get(record_a="7014")
    assert (duplicate.registry_b, duplicate.record_b, duplicate.score) == ("gold-standard", "GS4823", 1.0)
    assert duplicate.evidence == {"shared_serials": 7635}


def test_cdm_cancellations_inside_issuances_are_normal_and_reconciled(root: User) -> None:
    _csv(root, CDM_HEADER + "2012-01-01,Issuance (1),4 - Completed,65140000 - 65149999,CER,1,BR,2569,10000\n")
    _csv(root, CANCEL_HEADER + "2012-10-27,Cancellation (4),65142364 - 65147657,BR-2569,4 - Completed,1,tCER,5294\n"
                               "2013-10-27,Cancellation (4),65147000 - 65147100,BR-2569,4 - Completed,1,CER,101\n"
                               "2013-10-27,Cancellation (4),65149990 - 65150009,BR-2569,4 - Completed,1,CER,20\n")
    services.find_double_counting(actor=root)
    twice = selectors.findings(kind="retired_twice").get()
    assert (twice.quantity, twice.evidence["overlap"]) == (101, [65147000, 65147100])
    assert not selectors.findings(kind="serial_overlap").exists()
    [balance] = selectors.reconcile(registry="cdm", project="2569")
    assert (balance.issued, balance.cancelled, balance.remaining) == (10000, 5415, 4585)
    assert balance.mismatches == ["cancellation 65149990 - 65150009: 10 units not issued by cdm in the data"]


def test_cross_references_and_names_link_projects(root: User) -> None:
    load(root, "american-carbon-registry/projects.csv")
    load(root, "arb/nc-arboc_issuance_sheet3.csv")
    services.find_double_counting(actor=root)
    linked = selectors.findings(kind="duplicate_project").filter(registry_b="carb", record_b="CAOD1007").first()
    assert linked is not None and linked.evidence["cross_reference"] == "acr:ACR1007"
    assert Finding.objects.filter(kind="duplicate_project").count() >= 1


def test_sweep_and_names() -> None:
    r = matching.Range
    ranges = [r(1, "verra", "holding", "verra:VCU", 1, 10, "1", ""), r(2, "cadt", "holding", "verra:VCU", 5, 20, "9", ""),
              r(3, "verra", "retirement", "verra:VCU", 30, 40, "1", "")]
    [o] = matching.overlaps(ranges)
    assert (o.kind, o.quantity) == ("serial_overlap", 6)
    assert matching.country_code("COTE D'IVOIRE") == "CI" == matching.country_code("Côte d'Ivoire")
    assert matching.country_code("IND") == "IN" and matching.country_code("Kenya") == "KE"
    c = matching.Candidate
    pairs = list(matching.similar_projects([
        c(1, "verra", "1", "Bale Mountains Eco-region REDD+ project", "ET", "VM0015", "Farm Africa"),
        c(2, "gold-standard", "GS9", "Bale Mountains Ecoregion REDD+ Project (VCS 1340)", "ET", "", "Farm Africa"),
        c(3, "acr", "ACR1", "A-Gas 1-2024", "US", "", ""), c(4, "car", "CAR1", "A-Gas 1-2021", "US", "", ""),
    ], threshold=85))
    assert [(a.project_id, b.project_id) for a, b, _, _ in pairs] == [("GS9", "1")]


def test_vrod_totals_are_reconciled_against_the_home_registry(root: User) -> None:
    load(root, "verra/transactions.csv")
    vrod = ("Voluntary Registry Offsets Database v2025-04\n\n"
            "Project ID,Project Name,Voluntary Registry,Voluntary Status,Country,Total Credits Issued,"
            "Total Credits Retired,Total Credits Remaining\n"
            'VCS1340,Bale Mountains Eco-region REDD+ project,VCS,Registered,Ethiopia,"1,000",0,"1,000"\n')
    report = _csv(root, vrod, registry="vrod")
    assert (report.file_format, report.mapped) == ("vrod-projects", 1)
    [balance] = selectors.reconcile(registry="verra", project="1340")
    assert balance.reported == 1000
    assert balance.mismatches == [f"reported as issued: 1000; the registry's issuances: {selectors.amount(balance.issued)}"]


def test_cadt_unit_rows_take_the_series_of_their_serials(root: User) -> None:
    _csv(root, CDM_HEADER + "2019-05-02,Issuance (1),4 - Completed,1459975 - 1467609,CER,2,RW,7014,7635\n")
    cadt = ("warehouseUnitId,serialNumberBlock,unitCount,unitStatus,vintageYear,unitRegistryLink\n"
            "u-1,RW-5-1459975-2-2-0-7014 - RW-5-1460107-2-2-0-7014,133,Retired,2015,CDM\n"
            "u-2,1459975-1460107,133,Held,2015,Verra\n")
    report = _csv(root, cadt, registry="cadt")
    assert (report.file_format, report.mapped) == ("cadt-units", 2)
    services.find_double_counting(actor=root)
    [overlap] = selectors.findings(kind="serial_overlap")
    assert ({overlap.registry_a, overlap.registry_b}, overlap.series, overlap.quantity) == ({"cadt", "cdm"}, "kyoto:RW", 133)


def test_observed_records_in_cad_trust_shape(root: User) -> None:
    load(root, "art-trees/projects.csv")
    load(root, "art-trees/retirements.csv")
    projects = list(selectors.cadt_v1_projects())
    assert projects[0]["registryOfOrigin"] == "ART TREES" and projects[0]["projectLocations"]
    units = list(selectors.cadt_v1_units())
    assert len(units) == 8 and {u["unitStatus"] for u in units} == {"Retired"}
    assert all(int(u["unitBlockEnd"]) - int(u["unitBlockStart"]) + 1 == u["unitCount"] for u in units)


def test_a_vintage_issued_in_two_registries(root: User) -> None:
    acr = ("Project ID,Voluntary Status,Project Developer,Project Name,Project Site Country\n"
           "ACR1,Registered,Dev,Valley Landfill Gas Destruction,US\n")
    car = ("Project ID,Project Owner,Offset Project Operator,Status,Project Name,Project Site Country\n"
           "CAR9,Dev,Dev,Registered,Valley Landfill Gas Destruction,US\n")
    _csv(root, acr, registry="acr")
    _csv(root, car, registry="car")
    _csv(root, "Date Issued (GMT),Vintage,Total Credits Issued,Project ID\n3/24/2020 9:08:01 PM,2019,\"1,000\",ACR1\n",
         registry="acr")
    _csv(root, "Date Issued,Vintage,Total Offset Credits Issued,Project ID\n03/19/2021,2019,400,CAR9\n", registry="car")
    counts = services.find_double_counting(actor=root)
    assert (counts.duplicate_project, counts.moved_uncancelled, counts.issued_in_both) == (1, 1, 0)
    # ACR issued the vintage first and cancelled none of it: CAR's 400 were moved without cancellation.
    moved = selectors.findings(kind="moved_uncancelled").get()
    assert (moved.registry_a, moved.record_a, moved.registry_b, moved.record_b, moved.quantity) == (
        "acr", "ACR1", "car", "CAR9", 400)
    assert moved.evidence["vintages"] == [{"vintage": 2019, "issued_at_origin": "1000", "cancelled_at_origin": "0",
                                           "issued_at_destination": "400", "not_cancelled": "400"}]
    # Once ACR's cancellation of 300 of them is published, 100 remain moved without cancellation.
    _csv(root, "Project ID,Vintage,Quantity of Credits,Credit Serial Numbers,Cancellation Type,Status Effective (GMT)\n"
               "ACR1,2019,300,ACR-US-1-2019-1 to 300,Transfer to another registry,4/1/2021 10:00:00 AM\n",
         registry="acr")
    services.find_double_counting(actor=root)
    assert selectors.findings(kind="moved_uncancelled").get().quantity == 100
    # The same vintage issued on the same day in both: which came first cannot be told.
    _csv(root, "Date Issued (GMT),Vintage,Total Credits Issued,Project ID\n3/24/2020 9:08:01 PM,2018,50,ACR1\n",
         registry="acr")
    _csv(root, "Date Issued,Vintage,Total Offset Credits Issued,Project ID\n03/24/2020,2018,50,CAR9\n", registry="car")
    counts = services.find_double_counting(actor=root)
    assert counts.issued_in_both == 1
    assert selectors.findings(kind="issued_in_both").get().evidence["vintages"] == [
        {"vintage": 2018, "acr": "50", "car": "50"}]


def test_units_moved_with_and_without_cancellation_at_the_origin(root: User) -> None:
    # The CDM registry issued RW 1-1000; Gold Standard rows carry 1-300 and 401-600 of them.
    # The CDM registry cancelled 1-300 and 401-500 (voluntary cancellation, the way units move out).
    _csv(root, CDM_HEADER + "2019-05-02,Issuance (1),4 - Completed,1 - 1000,CER,2,RW,7014,1000\n")
    _csv(root, CANCEL_HEADER + "2019-06-01,Cancellation (5),1 - 300,RW-7014,4 - Completed,2,CER,300\n"
                               "2019-06-01,Cancellation (5),401 - 500,RW-7014,4 - Completed,2,CER,100\n")
    gs = ("GSID,Serial Number,Quantity,Issuance Date,Vintage\n"
          "4823,RW-5-1-2-2-0-7014 - RW-5-300-2-2-0-7014,300,2019-07-01,2015\n"
          "4823,RW-5-401-2-2-0-7014 - RW-5-600-2-2-0-7014,200,2019-07-01,2015\n")
    _csv(root, gs, registry="gold-standard")
    counts = services.find_double_counting(actor=root)
    [moved] = selectors.findings(kind="moved_uncancelled")
    assert counts.moved_uncancelled == 1 and counts.serial_overlap == counts.retired_twice == 0
    assert (moved.registry_a, moved.registry_b, moved.series, moved.quantity) == ("cdm", "gold-standard", "kyoto:RW", 100)
    assert moved.evidence["not_cancelled_at_origin"] == [[501, 600]]
    assert moved.evidence["origin"]["registry"] == "cdm" and moved.evidence["found_in"]["project"] == "GS4823"
    assert moved.evidence["found_in"]["serials"] == "RW-5-401-2-2-0-7014 - RW-5-600-2-2-0-7014"
    assert moved.evidence["origin"]["serials"] == "1 - 1000" and "pk" not in moved.evidence["origin"]


def test_moves_rules() -> None:
    r = matching.Range
    issued, cancelled = r(1, "cdm", "issuance", "kyoto:RW", 1, 10, "1", ""), r(2, "cdm", "cancellation", "kyoto:RW", 1, 10, "1", "")
    retired = r(3, "cdm", "retirement", "kyoto:RW", 1, 10, "1", "")
    elsewhere = r(4, "gold-standard", "issuance", "kyoto:RW", 5, 20, "GS1", "")
    mirror = r(5, "cadt", "holding", "kyoto:RW", 5, 20, "x", "")
    assert matching.classify(issued, elsewhere) == "moved_uncancelled"
    assert matching.classify(cancelled, elsewhere) is None  # the proper way
    assert matching.classify(retired, elsewhere) == "serial_overlap"  # used at the origin, live elsewhere
    assert matching.classify(issued, mirror) == "serial_overlap"  # a mirror is not a registry units move to
    two_others = r(6, "acr", "issuance", "kyoto:RW", 1, 3, "A", "")
    assert matching.classify(two_others, elsewhere) == "serial_overlap"
    assert matching.home_registry("gs:GS1-1-UG") == "gold-standard" and matching.home_registry("acr:ACR-US") == "acr"
    assert matching.uncovered(1, 100, [(1, 10), (5, 20), (50, 60), (90, 200)]) == [(21, 49), (61, 89)]
    assert matching.uncovered(1, 10, []) == [(1, 10)] and matching.uncovered(5, 6, [(1, 10)]) == []
    assert matching.VintageMove(2019, 1000, 300, 400).uncancelled == 100
    assert matching.VintageMove(2019, 1000, 900, 400).uncancelled == 0
    assert matching.origin_of(1, 2) == 0 and matching.origin_of(2, 1) == 1 and matching.origin_of(1, 1) is None
