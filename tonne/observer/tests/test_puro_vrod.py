"""Puro.earth exports and Berkeley's Voluntary Registry Offsets Database in its published shape.

No Puro.earth export is in the samples (nor in CarbonPlan's OffsetsDB): the rows
here are built from the Puro Registry API's documented objects (production
facilities, certificate bundles, transactions; docs.api.puro.earth) flattened to
columns, and its documented certificate-id example. The VROD workbook is built
in the layout of Berkeley's published file: a READ ME sheet, then PROJECTS with
three title rows above the header (CarbonPlan reads it with skiprows=3), a
column named " Type" with its leading space, and credits per vintage year."""

from __future__ import annotations

import io

from openpyxl import Workbook

from tonne.observer import selectors, services
from tonne.observer.domain import serials as sn
from tonne.observer.models import ObservedProject, ObservedUnits
from tonne.observer.tests.conftest import load
from tonne.organisations.models import User

ISSUANCE = "055a3fbe-eabc-4535-b9cf-1028e7d18f89"


def _import(root: User, data: bytes, name: str, registry: str | None = None) -> services.FileReport:
    return services.import_file(actor=root, stream=io.BytesIO(data), filename=name, registry=registry)


def test_puro_certificate_ids() -> None:
    s = sn.puro(f"PURO_PR_CORC100+_FI_577166_2020_{ISSUANCE}_1-100")
    assert (s.series, s.start, s.end, s.grammar) == (f"puro:{ISSUANCE}", 1, 100, "puro")
    # Bundles from before the registry change: GSRN followed by a 12-digit sequence.
    old = sn.puro("PURO_PR_CORC_FI_577166_2020_643002406555908611000000000001-643002406555908611000000000100")
    assert (old.series, old.start, old.end) == ("puro:gsrn:643002406555908611", 1, 100)
    assert sn.parse_any(f"PURO_PR_CORC100+_FI_577166_2020_{ISSUANCE}_101-250").quantity == 150
    for bad in ("PURO_PR_CORC100+_FI_577166_2020_1-100", "PURO_PR_CORC100+_FI_577166_2020_x_9-1"):
        try:
            sn.puro(bad)
        except sn.SerialError:
            continue
        raise AssertionError(bad)


def test_puro_facilities_bundles_and_transactions(root: User) -> None:
    facilities = ("code,gsrn,name,methodologyCode,supplierName,country,certificationStatus,creditingPeriod.start\n"
                  "577166,643002406555908611,Biochar plant 1,C010000000,Carbon Supplier Oy,FI,CERTIFIED,2020-01-01\n")
    report = _import(root, facilities.encode(), "facilities.csv", "puro")
    assert (report.file_format, report.mapped) == ("puro-facilities", 1)
    assert ObservedProject.objects.get(registry="puro", project_id="577166").developer == "Carbon Supplier Oy"

    bundles = ("certificates,volume,accountHolderName,methodologyCode,productionFacilityCode,vintage,"
               "productionStartDate,productionEndDate,creditType,issuanceId,issuanceDate\n"
               f"PURO_PR_CORC100+_FI_577166_2020_{ISSUANCE}_1-100,100,Acme Inc.,C010000000,577166,2020,"
               f"2020-01-01,2020-12-31,CORC100+,{ISSUANCE},2021-03-01\n")
    report = _import(root, bundles.encode(), "certificates.csv")
    assert (report.file_format, report.mapped) == ("puro-certificates", 1)

    transactions = ("transactionId,type,volume,completedOn,accountHolderName,productionFacilityCode,vintage,"
                    "certificates,beneficiaryName\n"
                    f"t-1,Issuance,250,2021-03-01T10:00:00Z,Carbon Supplier Oy,577166,2020,"
                    f"PURO_PR_CORC100+_FI_577166_2020_{ISSUANCE}_1-250,\n"
                    f"t-2,Retirement,150,2022-05-01T10:00:00Z,Acme Inc.,577166,2020,"
                    f"PURO_PR_CORC100+_FI_577166_2020_{ISSUANCE}_101-250,Acme Inc.\n"
                    "t-3,Trade,50,2022-06-01T10:00:00Z,Acme Inc.,577166,2020,,\n")
    report = _import(root, transactions.encode(), "transactions.csv")
    assert (report.file_format, report.rows_read, report.mapped, report.skipped) == ("puro-transactions", 3, 2, 1)
    retired = ObservedUnits.objects.get(registry="puro", kind="retirement")
    assert (retired.beneficiary, retired.serial_start, retired.serial_end) == ("Acme Inc.", 101, 250)
    # The bundle still held, the issuance and the retirement of the rest are the units' normal life.
    counts = services.find_double_counting(actor=root)
    assert counts.serial_overlap == counts.retired_twice == 0
    [balance] = selectors.reconcile(registry="puro", project="577166")
    assert (balance.issued, balance.retired) == (250, 150)


def _vrod_workbook() -> bytes:
    book = Workbook()
    readme = book.active
    readme.title = "READ ME"
    readme.append(["Voluntary Registry Offsets Database"])
    readme.append(["Berkeley Carbon Trading Project, Goldman School of Public Policy, UC Berkeley"])
    sheet = book.create_sheet("PROJECTS")
    sheet.append(["Voluntary Registry Offsets Database (v2025-04)"])
    sheet.append(["Totals are as reported by each registry; see READ ME."])
    sheet.append([None] * 20 + ["Credits Issued by Vintage Year"])
    header = ["Project ID", "Project Name", "Voluntary Registry", "ARB / WA Project", "Voluntary Status", "Scope",
              " Type", "Reduction / Removal", "Methodology / Protocol", "Methodology Version", "Region", "Country",
              "State", "Site Location", "Project Owner", "Offset Project Operator", "Authorized Project Designee",
              "Verifier", "Estimated Annual Emission Reductions", "Total Credits Issued", "Total Credits Retired",
              "Total Credits Remaining", "Total Buffer Pool Deposits", 2019, 2020, 2021]
    sheet.append(header)
    row = dict.fromkeys(header)
    row.update({"Project ID": "VCS1340", "Project Name": "Bale Mountains Eco-region REDD+ project",
                "Voluntary Registry": "VCS", "Voluntary Status": "Registered", "Scope": "Forestry & Land Use",
                " Type": "REDD+", "Reduction / Removal": "Reduction", "Methodology / Protocol": "VM0015",
                "Region": "Africa", "Country": "Ethiopia", "Project Owner": "Oromia Forest and Wildlife Enterprise",
                "Total Credits Issued": 1454054, "Total Credits Retired": 1000, "Total Credits Remaining": 1453054,
                2020: 1454054})
    sheet.append([row[h] for h in header])
    gs = dict.fromkeys(header)
    gs.update({"Project ID": "GS4823", "Project Name": "Rwanda cookstoves (CDM 7014)", "Voluntary Registry": "GOLD",
               "Voluntary Status": "Registered", " Type": "Cookstoves", "Country": "Rwanda",
               "Total Credits Issued": 7635, "Total Credits Retired": 0, "Total Credits Remaining": 7635})
    sheet.append([gs[h] for h in header])
    sheet.append(["Total", None, None])  # a totals row the file ends with
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_vrod_workbook_as_published(root: User) -> None:
    load(root, "verra/transactions.csv")
    report = _import(root, _vrod_workbook(), "Voluntary-Registry-Offsets-Database--v2025-04.xlsx")
    assert (report.file_format, report.rows_read, report.mapped, report.skipped) == ("vrod-projects", 3, 2, 1)
    assert any("READ ME" in w for w in report.warnings)
    project = ObservedProject.objects.get(registry="vrod", project_id="VCS1340")
    assert (project.project_type, project.country, project.developer) == ("REDD+", "Ethiopia",
                                                                          "Oromia Forest and Wildlife Enterprise")
    assert project.raw["2020"] == 1454054 and project.raw["Reduction / Removal"] == "Reduction"
    assert set(ObservedProject.objects.get(project_id="GS4823").cross_refs) == {"cdm:7014", "gold-standard:GS4823"}
    # VROD's totals are what it reports of the home registry's project, reconciled against that registry's export.
    [balance] = selectors.reconcile(registry="verra", project="1340")
    assert balance.reported == 1454054
    assert balance.mismatches and balance.mismatches[0].startswith("reported as issued: 1454054")
