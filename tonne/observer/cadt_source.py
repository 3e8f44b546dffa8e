"""The observer's records as a source registry of the CAD Trust exports (tonne.cadt.sources).

Installed by the wiring: a full CAD Trust export then carries every observed
project and unit block, each naming the registry it came from, and the
totals count them. Rows are built from the observer's selectors, streamed."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import Any

from django.db.models import Count, Sum

from tonne.cadt.schema import V1
from tonne.cadt.sources import SourceTotals
from tonne.observer import selectors
from tonne.observer.domain.records import REGISTRIES
from tonne.observer.models import ObservedProject, ObservedUnits


class ObservedRecords:
    """tonne.cadt.sources.SourceRegistry over the observer's harmonised records."""

    def cadt_rows(self, version: str) -> dict[str, Iterable[dict[str, Any]]]:
        if version == V1:
            return {"projects": selectors.cadt_v1_projects(), "units": selectors.cadt_v1_units()}
        return _v2_rows()

    def totals(self) -> list[SourceTotals]:
        projects = dict(ObservedProject.objects.values_list("registry").annotate(n=Count("pk")).order_by())
        sums: dict[str, dict[str, Decimal]] = {}
        for registry, kind, q in (ObservedUnits.objects.exclude(kind="reported_issuance")
                                  .values_list("registry", "kind").annotate(q=Sum("quantity")).order_by()):
            entry = sums.setdefault(registry, {"issued": Decimal(0), "retired": Decimal(0), "cancelled": Decimal(0)})
            for measure in selectors.measures(registry, kind):
                entry[measure] += q or Decimal(0)
        out = []
        for registry in sorted(set(projects) | set(sums)):
            kinds = sums.get(registry, {})
            out.append(SourceTotals(registry=REGISTRIES.get(registry, registry), projects=projects.get(registry, 0),
                                    issued=int(kinds.get("issued", 0)), retired=int(kinds.get("retired", 0)),
                                    cancelled=int(kinds.get("cancelled", 0))))
        return out


def _v2_rows() -> dict[str, Iterable[dict[str, Any]]]:
    """v2 keeps units under issuances under projects: one issuance per observed project stands for its units."""
    projects = list(selectors.cadt_v1_projects())
    return {
        "project": ({"cadTrustProjectId": p["warehouseProjectId"], "projectRegistryName": p["registryOfOrigin"],
                     "projectId": p["projectId"], "projectName": p["projectName"], "projectSector": p["sector"],
                     "projectStatus": p["projectStatus"]} for p in projects),
        "location": ({"cadTrustLocationId": loc["id"], "cadTrustProjectId": p["warehouseProjectId"],
                      "locationCountry": loc["country"]} for p in projects for loc in p["projectLocations"]),
        "issuance": ({"cadTrustIssuanceId": _issuance_of(p["warehouseProjectId"]), "issuanceId": p["projectId"]}
                     for p in projects),
        "unit": _v2_units(),
    }


def _issuance_of(project_uid: str) -> str:
    return selectors.observed_id("issuance", project_uid)


def _v2_units() -> Iterator[dict[str, Any]]:
    for u in selectors.cadt_v1_units():
        yield {"cadTrustUnitId": u["warehouseUnitId"], "unitSerialId": u["serialNumberBlock"],
               "unitStartBlock": u["unitBlockStart"], "unitEndBlock": u["unitBlockEnd"], "unitCount": u["unitCount"],
               "unitVintageYear": u["vintageYear"], "unitStatus": u["unitStatus"],
               "unitStatusReason": u["unitStatusReason"],
               "cadTrustIssuanceId": _issuance_of(u["warehouseProjectId"]) if u["warehouseProjectId"] else None}
