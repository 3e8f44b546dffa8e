"""CAD Trust v2 tables that Tonne derives rather than maps one to one
(CAD Trust's develop line, src/routes/v2 and src/models/v2):

- `stakeholder_projects`: CAD Trust links stakeholders to projects in a table
  of its own; Tonne's stakeholders belong to one project, so each v2
  stakeholder row gives one link (its id derived from the pair).
- `aef_t1_submission` … `aef_t5_authorized_entities`: the Agreed Electronic
  Format tables of the Article 6 report of every reporting year from the
  first authorisation to this one (tonne.article6.aef), rebuilt when the
  ledger has moved since they were last built.
- `activity`: CAD Trust's register of Article 6.4 activities; Tonne keeps
  none, so only records imported from other registries appear.

They are rows of the projection like every other table, so the read API
filters, searches, orders and pages them the same way."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from typing import Any

from django.db.models import Min

from tonne.core import clock

NS = uuid.UUID("5d0f3a52-8c1e-4f43-9b7e-2b7f8a1c6e10")
STAKEHOLDER_PROJECTS = "stakeholder_projects"
AEF_TABLES = ("aef_t1_submission", "aef_t2_authorizations", "aef_t3_actions", "aef_t4_holdings",
              "aef_t5_authorized_entities")

# table -> (path under /cadt/v2/, key field, CAD Trust's fields in its model's order)
TABLES: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "activity": ("activity", "cadTrustActivityId", (
        "cadTrustActivityId", "activityProgramName", "activityRegistry", "activityRegistryActivityId",
        "activityRegistryProgramId", "activityDescription", "createdAt", "updatedAt")),
    STAKEHOLDER_PROJECTS: ("stakeholder-projects", "cadTrustStakeholderProjectId", (
        "cadTrustStakeholderProjectId", "cadTrustStakeholderId", "cadTrustProjectId", "orgUid", "createdAt",
        "updatedAt")),
    "aef_t1_submission": ("aef-t1-submission", "cadTrustAefT1SubmissionId", (
        "cadTrustAefT1SubmissionId", "aefT1SubmissionParty", "aefT1SubmissionVersion", "aefT1SubmissionReportYear",
        "aefT1SubmissionSubmissionDate", "aefT1SubmissionReviewStatus", "aefT1SubmissionResultCheck",
        "aefT1SubmissionNdcFirstYear", "aefT1SubmissionNdcLastYear", "aefT1SubmissionReferenceReviewReport",
        "createdAt", "updatedAt")),
    "aef_t2_authorizations": ("aef-t2-authorizations", "cadTrustAefT2AuthorizationsId", (
        "cadTrustAefT2AuthorizationsId", "aefT2AuthorizationsId", "aefT2AuthorizationsDate",
        "aefT2AuthorizationsCooperativeApproachId", "aefT2AuthorizationsVersion", "aefT2AuthorizationsQuantity",
        "aefT2AuthorizationsMetric", "aefT2AuthorizationsGwpValue", "aefT2AuthorizationsApplicableNonGhgMetric",
        "aefT2AuthorizationsSector", "aefT2AuthorizationsActivityType", "aefT2AuthorizationsPurposesForAuthorization",
        "aefT2AuthorizationsAuthorizedPartyId", "aefT2AuthorizationsAuthoziedEntityId",
        "aefT2AuthorizationsOimpAuthorizedParty", "aefT2AuthorizationsAuthorizedTimeframe",
        "aefT2AuthorizationsAuthorizationTerms", "aefT2AuthorizationsAuthorizationDocumentation",
        "aefT2AuthorizationsFirstTransferDefinitionOimp", "aefT2AuthorizationsAdditionalInformation", "createdAt",
        "updatedAt", "cadTrustAefT1SubmissionId", "cadTrustUnitId", "cadTrustProjectId",
        "cadTrustAefT5AuthorizedEntitiesId")),
    "aef_t3_actions": ("aef-t3-actions", "cadTrustAefT3ActionsId", ()),
    "aef_t4_holdings": ("aef-t4-holdings", "cadTrustAefT4HoldingsId", ()),
    "aef_t5_authorized_entities": ("aef-t5-authorized-entities", "cadTrustAefT5AuthorizedEntitiesId", (
        "cadTrustAefT5AuthorizedEntitiesId", "aefT5AuthorizedEntitiesId", "aefT5AuthorizedEntitiesIncorporationCountry",
        "createdAt", "updatedAt")),
}
_T3_T4 = ("itmo_first_id", "itmo_last_id", "unit_registry_id", "unit_first_id", "unit_last_id", "metric",
          "gwp_value", "applicable_non_ghg_metric", "quantity_t_co2", "quantity_non_ghg", "mitigation_type",
          "vintage_year")
_T3 = ("date", "type", "subtype", "coopoerative_approach_id", "authorization_id", "first_transferring_party_id",
       "party_itmo_registry_id", *_T3_T4, "transferring_party_id", "acquiring_party_id", "purpose_of_use_oimp",
       "using_participating_party_id", "using_authorized_entity_id", "itmo_used_year", "consistency_check_result",
       "additional_information")
_T4 = ("coopoerative_approach_id", "authorization_id", "first_transferring_party_id", "party_itmo_registry_id",
       *_T3_T4)
_LINKS = ("createdAt", "updatedAt", "cadTrustAefT1SubmissionId", "cadTrustUnitId", "cadTrustProjectId",
          "cadTrustAefT2AuthorizationsId")


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(w.capitalize() for w in rest)


for _table, _names in (("aef_t3_actions", _T3), ("aef_t4_holdings", _T4)):
    _path, _key, _ = TABLES[_table]
    TABLES[_table] = (_path, _key, (_key, *(_camel(f"{_table}_{n}") for n in _names), *_LINKS))


def key(table: str) -> str:
    return TABLES[table][1]


def fields(table: str, rows: list[dict[str, Any]] | None = None) -> tuple[str, ...]:
    """CAD Trust's fields of the table, then any other field Tonne's rows carry."""
    names = list(TABLES[table][2])
    for row in rows or []:
        names += [n for n in row if n not in names]
    return tuple(names)


def stakeholder_project(stakeholder: dict[str, Any], org_uid: str) -> dict[str, Any]:
    """The link a v2 stakeholder row (of organisation `org_uid`) makes between its stakeholder and its project."""
    pair = f"{stakeholder['cadTrustStakeholderId']}|{stakeholder.get('cadTrustProjectId')}"
    return {
        "cadTrustStakeholderProjectId": str(uuid.uuid5(NS, pair)),
        "cadTrustStakeholderId": stakeholder["cadTrustStakeholderId"],
        "cadTrustProjectId": stakeholder.get("cadTrustProjectId"),
        "orgUid": org_uid,
        "createdAt": stakeholder.get("createdAt"),
        "updatedAt": stakeholder.get("updatedAt"),
    }


def reporting_years() -> range:
    """From the year of the first Article 6 authorisation to this one (none without one)."""
    from tonne.article6.models import Authorisation

    first = Authorisation.objects.aggregate(first=Min("created_at"))["first"]
    if first is None:
        return range(0)
    return range(first.year, clock.now().year + 1)


def aef_rows() -> Iterator[tuple[str, dict[str, Any]]]:
    """The AEF tables of every reporting year, as CAD Trust v2 rows (a record
    in several years' reports is given once, as the latest report has it)."""
    from tonne.article6 import aef

    latest: dict[tuple[str, str], dict[str, Any]] = {}
    for year in reporting_years():
        today = clock.now().date()
        report = aef.build(year, submission_date=min(today, dt.date(year + 1, 1, 1)))
        for table, rows in report["cadt"].items():
            for row in rows:
                latest[(table, str(row[key(table)]))] = row
    for (table, _), row in latest.items():
        yield table, row
