"""The CAD Trust v2 AEF tables T1-T5 of an AEF report, with CAD Trust's
field names and stable identifiers."""

from __future__ import annotations

import uuid
from typing import Any

NS = uuid.UUID("6c0d6f1e-5b43-4c58-9a57-9f5a7a1f0a06")


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(w.capitalize() for w in rest)


def _guid(*parts: Any) -> str:
    return str(uuid.uuid5(NS, "|".join(str(p) for p in parts)))


def cadt_tables(report: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    t = report["tables"]
    sub = t["submission"][0]
    sub_id = _guid("t1", report["registry"], report["year"], sub["version"])
    t1 = [{"cadTrustAefT1SubmissionId": sub_id, "aefT1SubmissionParty": sub["party"],
           "aefT1SubmissionVersion": sub["version"], "aefT1SubmissionReportYear": sub["report_year"],
           "aefT1SubmissionSubmissionDate": sub["submission_date"]}]
    t2, t2_ids = [], {}
    for row in t["authorizations"]:
        gid = _guid("t2", row["authorization_id"], row["version"])
        t2_ids[row["authorization_id"]] = gid
        out = {"cadTrustAefT2AuthorizationsId": gid, "cadTrustAefT1SubmissionId": sub_id}
        # The AEF's own name for the authorisation identifier is aef_t2_authorizations_id.
        out.update({_camel(f"aef_t2_authorizations_{'id' if k == 'authorization_id' else k}"): v
                    for k, v in row.items()})
        t2.append(out)

    def rows(prefix: str, table: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
        out = []
        for i, row in enumerate(table):
            item = {f"cadTrustAef{key}Id": _guid(prefix, report["registry"], report["year"], i),
                    "cadTrustAefT1SubmissionId": sub_id,
                    "cadTrustAefT2AuthorizationsId": t2_ids.get(row.get("authorization_id", ""), "")}
            item.update({_camel(f"aef_{prefix}_{k}"): v for k, v in row.items() if k != "holding_account"})
            out.append(item)
        return out

    t3 = rows("t3_actions", t["actions"], "T3Actions")
    t4 = rows("t4_holdings", t["holdings"], "T4Holdings")
    t5 = rows("t5_authorized_entities", t["authorized_entities"], "T5AuthorizedEntities")
    return {"aef_t1_submission": t1, "aef_t2_authorizations": t2, "aef_t3_actions": t3, "aef_t4_holdings": t4,
            "aef_t5_authorized_entities": t5}
