"""The authorisation matrix, generated from /api/v1/openapi.json: every
operation is called by every kind of caller, for resources of the caller's
own organisation and of another, and must meet its declared expectation.
An operation with no declared expectation fails the suite, so every new
endpoint gets classified.

Callers: anonymous; an administrator of the organisation that owns the
resources in the request ("own"); an administrator of another organisation
("other"); the registry administrator ("registry"). Everyone signed in has a
second factor confirmed just now. "deny" means 401, 403, or a 404 that hides
the resource; "ok" means the request got past authorisation (it may still be
refused for what it asks, with 409 or 422)."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.test import Client

from tonne import testing
from tonne.access.testing import give_totp, stepped_up
from tonne.ledger.commitments import ACCOUNT
from tonne.ledger.models import LedgerEntry
from tonne.ledger.openings import ledger_name
from tonne.notifications.models import Notification
from tonne.notifications.services import deliver as deliver_notifications

pytestmark = [pytest.mark.django_db, pytest.mark.controls, pytest.mark.usefixtures("loopback_outbound")]

CALLERS = ("anon", "own", "other", "registry")
OK, NO = "ok", "deny"
PUBLIC = (OK, OK, OK, OK)
SIGNED_IN = (NO, OK, OK, OK)  # scoped to the caller's own things
HOLDER = (NO, OK, NO, OK)  # the owning organisation and the registry administrator
ADMIN = (NO, NO, NO, OK)  # the registry administrator only
DEVELOPER = (NO, OK, OK, NO)  # project developers (the registry administrator is not one)
OWNER_ONLY = (NO, OK, NO, NO)  # the owning organisation (the administrator may not act for it)
NOBODY_BUT_VVB = (NO, NO, NO, NO)  # the assigned verification body only (none of these callers)

# operationId: (anon, own, other, registry)
EXPECTED: dict[str, tuple[str, str, str, str]] = {
    "organisations_apply_organisation": PUBLIC,
    "organisations_list_organisations": PUBLIC,
    "organisations_get_organisation": PUBLIC,
    "organisations_decide_organisation": ADMIN,
    "organisations_accredit_organisation": ADMIN,
    "organisations_set_acts_for_clients": ADMIN,
    "organisations_list_users": HOLDER,
    "organisations_create_user": HOLDER,
    "organisations_change_user": HOLDER,
    "organisations_me": SIGNED_IN,
    "organisations_create_token": SIGNED_IN,
    "organisations_list_tokens": SIGNED_IN,
    "organisations_revoke_token": HOLDER,
    "organisations_list_accounts": SIGNED_IN,
    "organisations_open_account": HOLDER,
    "organisations_get_account": HOLDER,
    "projects_list_projects": PUBLIC,
    "projects_register_project": DEVELOPER,
    "projects_get_project": PUBLIC,
    "projects_update_project": OWNER_ONLY,
    "projects_list_project_documents": PUBLIC,
    "projects_upload_document": HOLDER,
    "projects_get_document": PUBLIC,
    "projects_download_document": PUBLIC,
    "projects_remove_document": OWNER_ONLY,  # its uploader
    "projects_change_project_status": ADMIN,  # putting a project on hold
    "mrv_list_reports": PUBLIC,
    "mrv_submit_report": OWNER_ONLY,
    "mrv_get_report": HOLDER,  # a report not yet verified
    "mrv_verify_report": NOBODY_BUT_VVB,
    "mrv_reject_report": NOBODY_BUT_VVB,
    "mrv_answer_assignment": NOBODY_BUT_VVB,
    "mrv_record_opinion": NOBODY_BUT_VVB,
    "mrv_reassign_vvb": OWNER_ONLY,
    "mrv_approve_verification": ADMIN,
    "notifications_list_notifications": SIGNED_IN,
    "notifications_count_notifications": SIGNED_IN,
    "notifications_read_notification": OWNER_ONLY,  # one's own notification, nobody else's
    "notifications_read_all_notifications": SIGNED_IN,
    "notifications_get_preferences": SIGNED_IN,
    "notifications_set_preferences": SIGNED_IN,
    "mrv_correct_report": OWNER_ONLY,
    "mrv_withdraw_report": OWNER_ONLY,
    "mrv_set_issuance_instruction": OWNER_ONLY,
    "mrv_approve_issuance": (NO, NO, NO, NO),  # four-eyes: only through an approved issuance request
    "units_list_blocks": PUBLIC,
    "units_get_block": PUBLIC,
    "units_search_serials": PUBLIC,
    "units_lookup_serial": PUBLIC,
    "units_list_issuances": PUBLIC,
    "units_get_issuance": PUBLIC,
    "units_list_retirements": PUBLIC,
    "units_create_retirement": OWNER_ONLY,
    "units_get_retirement": PUBLIC,
    "units_list_transactions": SIGNED_IN,
    "units_get_transaction": HOLDER,
    "units_create_transfer": OWNER_ONLY,
    "units_create_transfer_batch": OWNER_ONLY,  # all or nothing: an item refused refuses the request
    "units_create_retirement_batch": OWNER_ONLY,
    "units_transfer_and_retire": OWNER_ONLY,
    "units_create_cancellation": OWNER_ONLY,
    "units_create_reversal": ADMIN,
    "ledger_witnessed_logs": PUBLIC,
    "ledger_cosigned_checkpoint": PUBLIC,  # cosignatures of a published checkpoint
    "ledger_ledger_head": PUBLIC,
    "ledger_verifier_key": PUBLIC,
    "ledger_list_checkpoints": PUBLIC,
    "ledger_latest_checkpoint": PUBLIC,
    "ledger_get_checkpoint": PUBLIC,
    "ledger_list_entries": PUBLIC,
    "ledger_get_entry": PUBLIC,
    "ledger_inclusion_proof": PUBLIC,
    "ledger_entry_opening": HOLDER,  # the private fields of an entry about the holder's account
    "ledger_consistency_proof": PUBLIC,
    "audit_list_events": ADMIN,
    "audit_export_events": ADMIN,
    "controls_get_configuration": SIGNED_IN,
    "controls_get_switch": SIGNED_IN,
    "controls_set_switch": ADMIN,
    "controls_list_holidays": SIGNED_IN,
    "controls_add_holiday": ADMIN,
    "controls_remove_holiday": ADMIN,
    "projects_list_methodologies": PUBLIC,
    "projects_add_methodology_version": ADMIN,
    "projects_supersede_methodology_version": ADMIN,
    "projects_list_reference_lists": PUBLIC,
    "projects_add_reference_value": ADMIN,
    "projects_retire_reference_value": ADMIN,
    "projects_reinstate_reference_value": ADMIN,
    "projects_list_eligibility_rules": PUBLIC,
    "projects_add_eligibility_rule": ADMIN,
    "projects_remove_eligibility_rule": ADMIN,
    "projects_list_verification_approvals": PUBLIC,
    "projects_add_verification_approval": ADMIN,
    "projects_remove_verification_approval": ADMIN,
    "controls_list_approvals": SIGNED_IN,
    "controls_get_approval": HOLDER,
    "controls_approve": (NO, NO, NO, NO),  # own: the initiator himself; the administrator is not of the organisation
    "controls_reject": (NO, NO, NO, NO),
    "controls_cancel_transaction": HOLDER,
    "controls_request_issuance": ADMIN,
    "controls_list_trusted": HOLDER,
    "controls_add_trusted": HOLDER,
    "controls_remove_trusted": HOLDER,
    "controls_list_destinations": HOLDER,
    "controls_add_destination": HOLDER,
    "controls_remove_destination": HOLDER,
    "controls_get_limits": HOLDER,
    "controls_set_limits": HOLDER,
    "controls_list_freezes": SIGNED_IN,
    "controls_create_freeze": ADMIN,
    "controls_lift_freeze": ADMIN,
    "kyc_get_kyc": HOLDER,
    "kyc_submit_kyc": HOLDER,
    "kyc_verify_kyc": ADMIN,
    "kyc_upload_kyc_document": HOLDER,
    "kyc_read_kyc_document": HOLDER,
    "kyc_load_list": ADMIN,
    "kyc_list_lists": ADMIN,
    "kyc_list_hits": ADMIN,
    "kyc_decide_hit": ADMIN,
    "aml_list_alerts": ADMIN,
    "aml_decide_alert": ADMIN,
    "aml_release_hold": ADMIN,
    "article6_list_authorisations": PUBLIC,
    "article6_get_authorisation": PUBLIC,
    "article6_request_authorisation": ADMIN,
    "article6_request_change": ADMIN,
    "article6_request_revocation": ADMIN,
    "article6_lookup_serials": PUBLIC,
    "article6_block_status": PUBLIC,
    "article6_create_use": OWNER_ONLY,
    "article6_aef_report": ADMIN,
    "article6_create_export": OWNER_ONLY,
    "article6_create_import": ADMIN,
    "linkage_list_partners": ADMIN,
    "linkage_check_transfer": PUBLIC,
    "linkage_receive_message": PUBLIC,  # answered only when a partner's key signed the message
    "linkage_propose_transfer": OWNER_ONLY,
    "linkage_accept_transfer": ADMIN,
    "linkage_reject_transfer": ADMIN,  # answered only when a partner's key signed the file
    "linkage_add_partner": ADMIN,
    "linkage_change_partner": ADMIN,
    "linkage_add_key": ADMIN,
    "linkage_retire_key": ADMIN,
    "linkage_suspend_partner": ADMIN,
    "linkage_remove_partner": ADMIN,
    "linkage_receive_statement": PUBLIC,  # answered only when a partner's key signed the statement
    "linkage_reconciliation_reports": ADMIN,
    "linkage_reconcile": ADMIN,
    "linkage_resolve_mismatch": ADMIN,
    "article6_get_export": HOLDER,
    "cadt_export": PUBLIC,
    "cadt_import_file": ADMIN,
    "cadt_sync_status": ADMIN,
    "cadt_add_sync_node": ADMIN,
    "cadt_list_webhooks": ADMIN,
    "cadt_create_webhook": ADMIN,
    "cadt_delete_webhook": ADMIN,
    "cadt_webhook_deliveries": ADMIN,
    "mrv_list_sources": PUBLIC,
    "mrv_register_source": OWNER_ONLY,
    "mrv_record_calibration": OWNER_ONLY,
    "mrv_submit_readings": OWNER_ONLY,
    "mrv_upload_readings": OWNER_ONLY,
    "mrv_list_readings": HOLDER,  # a source whose raw data the project keeps confidential
    "mrv_list_anomalies": HOLDER,
    "mrv_compute_report": OWNER_ONLY,
    "mrv_report_computation": HOLDER,  # a computed report not yet verified
    "mrv_methodology_catalogue": PUBLIC,
    "mrv_serial_trail": PUBLIC,
    "mrv_project_benefits": PUBLIC,
    "mrv_set_benefit_plan": OWNER_ONLY,
    "mrv_record_disbursement": OWNER_ONLY,
    "mrv_record_consent": OWNER_ONLY,
    "mrv_record_grievance": HOLDER,
    "mrv_update_grievance": HOLDER,
    "observer_import_export": ADMIN,
    "observer_list_imports": ADMIN,
    "observer_get_import": ADMIN,
    "observer_run_findings": ADMIN,
    "observer_list_findings": PUBLIC,
    "observer_reconcile": PUBLIC,
    "observer_list_projects": PUBLIC,
}

# 404 codes that hide a resource from a caller who may not see it.
HIDING_CODES = {
    "ORGANISATION_NOT_FOUND", "ACCOUNT_NOT_FOUND", "APPROVAL_NOT_FOUND", "TRANSACTION_NOT_FOUND", "TRANSFER_NOT_FOUND",
    "KYC_DOCUMENT_NOT_FOUND", "TOKEN_NOT_FOUND", "PROJECT_NOT_FOUND", "REPORT_NOT_FOUND", "NOT_FOUND",
    "USER_NOT_FOUND", "SOURCE_NOT_FOUND", "GRIEVANCE_NOT_FOUND", "OBSERVER_IMPORT_NOT_FOUND", "NOTIFICATION_NOT_FOUND",
}


def build_world(settings: Any) -> dict[str, Any]:
    from tonne.aml.models import AmlAlert
    from tonne.controls import services as controls
    from tonne.core import clock
    from tonne.kyc import services as kyc
    from tonne.kyc.models import ScreeningHit
    from tonne.kyc.testing import verified_kyc
    from tonne.ledger.services import make_checkpoint
    from tonne.mrv import computation, readings
    from tonne.mrv import services as mrv
    from tonne.mrv.tests.dmrv import device
    from tonne.observer import services as observer
    from tonne.organisations import services as orgs
    from tonne.projects import benefits
    from tonne.projects import services as projects
    from tonne.units import services as units
    from tonne.units.domain import Selection

    four_eyes = settings.TONNE_FOUR_EYES
    settings.TONNE_FOUR_EYES = frozenset()
    settings.TONNE_DELAY_NON_TRUSTED = False
    reg = testing.build_registry("mx")
    testing.make_user(reg.developer_org, "mx-approver", "approver", actor=reg.admin)
    verified_kyc(reg.developer_org, reg.admin)
    project = testing.registered_project(reg)
    report, [issuance] = testing.issue(reg, project, {2022: 1000})
    retirement = units.retire(actor=reg.developer, from_account=reg.developer_account.identifier,
                              selection=Selection.build(quantity=5), beneficiary="Town", purpose="voluntary",
                              idempotency_key="mx-ret")
    submitted = mrv.submit_report(actor=reg.developer, project=project, period_start=dt.date(2023, 1, 1),
                                  period_end=dt.date(2023, 12, 31), vintages=[{"vintage": 2023, "quantity": 10}],
                                  vvb=str(reg.vvb_org.uid))
    document = projects.upload_document(actor=reg.developer, project=project, kind="other", title="Map",
                                        filename="map.txt", content=b"map", content_type="text/plain")
    controls.request_trusted_addition(actor=reg.developer, account=reg.developer_account.identifier,
                                      trusted=reg.buyer_account.identifier)
    from tonne.controls import destinations

    destinations.request_addition(actor=reg.developer, account=reg.developer_account.identifier, party="CH",
                                  registry="CH-MX")
    from tonne.article6.models import InternationalTransfer

    sent = InternationalTransfer.objects.create(
        uid=uuid.uuid4(), direction="sent", origin_registry="MX", origin_party="MX", destination_registry="CH-MX",
        destination_party="CH", destination_account="CH-1", transaction_identifier=retirement.identifier, quantity=5,
        signed_file="", sha256="", at=clock.now())
    settings.TONNE_FOUR_EYES = four_eyes
    waiting = units.transfer(actor=reg.developer, from_account=reg.developer_account.identifier,
                             to_account=reg.buyer_account.identifier, selection=Selection.build(quantity=3),
                             idempotency_key="mx-wait")
    from tonne.controls.models import Approval

    approval = Approval.objects.get(transaction=waiting)
    deliver_notifications()
    note = Notification.objects.filter(recipient=reg.developer).first()
    assert note is not None
    frozen = controls.freeze(actor=reg.admin, scope="serials", serial_start=10**12, serial_end=10**12 + 1, reason="mx")
    meter = device(reg, project, "MX-M1", measurement="fuel_saved", unit="t", raw_confidential=True)
    at = dt.datetime(2021, 2, 1, tzinfo=dt.UTC)
    readings.submit_readings(actor=reg.developer, project=project, readings=[meter.reading(1, at, "400")])
    computed = computation.compute_report(actor=reg.developer, project=project, methodology="AMS-II.G", version="13.0",
                                          period_start=dt.date(2021, 1, 1), period_end=dt.date(2021, 12, 31),
                                          vvb=str(reg.vvb_org.uid), parameters={"fnrb": "0.3"})
    [share] = benefits.set_benefit_plan(actor=reg.developer, project=project, shares=[{
        "beneficiary": "Village fund", "beneficiary_kind": "community", "basis": "proceeds",
        "share_basis_points": 2000, "frequency": "annual", "currency": "XOF", "planned_amount": "1000",
        "first_due": "2026-01-01"}])
    grievance = benefits.record_grievance(actor=reg.developer, project=project, received_on=dt.date(2026, 1, 5),
                                          channel="letter", summary="Noise")
    with (Path(__file__).resolve().parents[2] / "observer/tests/data/gold-standard/projects.csv").open("rb") as f:
        observed = observer.import_file(actor=reg.admin, stream=f, filename="projects.csv")
    give_totp(reg.developer)  # no token before enrolment
    token, _ = orgs.issue_api_token(actor=reg.developer, name="mx", scope="read")
    kyc_doc = kyc.upload_document(actor=reg.developer, organisation=reg.developer_org, kind="other",
                                  filename="x.txt", content=b"x", content_type="text/plain")
    hit = ScreeningHit.objects.create(organisation=reg.developer_org, subject="mx", entry_name="mx",
                                      entry_reference="mx-1", source="un", score=90, trigger="onboarding",
                                      created_at=clock.now())
    alert = AmlAlert.objects.create(rule="pass_through", account=reg.developer_account,
                                    organisation=reg.developer_org, detail={}, created_at=clock.now())
    from tonne.cadt import webhooks

    hook = webhooks.subscribe(actor=reg.admin, url="http://127.0.0.1:9/hook")
    logged_hook = webhooks.subscribe(actor=reg.admin, url="http://127.0.0.1:9/log")
    from tonne.controls import holidays

    declared = holidays.add_holiday(actor=reg.admin, day=clock.now().date() + dt.timedelta(days=400), name="Matrix")
    from tonne.projects import eligibility, reference

    reference.add_methodology(actor=reg.admin, code="MX-M", name="Matrix methodology", version="2")
    reference.retire_value(actor=reg.admin, list="unit_class", value="ERU")
    eligibility.add_rule(actor=reg.admin, name="MX", fact="vintage", scope="import", accepted=[2000, None])
    eligibility.add_approved_programme(actor=reg.admin, programme="MXP")
    checkpoint = make_checkpoint(force=True)
    block = reg.developer_account.blocks.first()
    dev_acc, buyer_acc = reg.developer_account.identifier, reg.buyer_account.identifier
    opened_seq = LedgerEntry.objects.filter(
        kind="account.opened", body__contains=ledger_name(ACCOUNT, dev_acc)).values_list("seq", flat=True).get()
    org = str(reg.developer_org.uid)
    path = {
        "controls_remove_holiday": {"day": declared.day.isoformat()},
        "projects_supersede_methodology_version": {"code": "MX-M", "version": "2"},
        "projects_add_reference_value": {"name": "unit_class"},
        "projects_retire_reference_value": {"name": "unit_class"},
        "projects_reinstate_reference_value": {"name": "unit_class"},
        "projects_remove_eligibility_rule": {"name": "MX"},
        "projects_remove_verification_approval": {"programme": "MXP"},
        "organisations_get_organisation": {"uid": org},
        "organisations_decide_organisation": {"uid": org},
        "organisations_accredit_organisation": {"uid": org},
        "organisations_set_acts_for_clients": {"uid": org},
        "organisations_list_users": {"uid": org},
        "organisations_create_user": {"uid": org},
        "organisations_change_user": {"uid": org, "username": "mx-approver"},
        "organisations_revoke_token": {"token_id": token.pk},
        "organisations_get_account": {"identifier": dev_acc},
        "projects_get_project": {"project_id": project.project_id},
        "projects_update_project": {"project_id": project.project_id},
        "projects_list_project_documents": {"project_id": project.project_id},
        "projects_upload_document": {"project_id": project.project_id},
        "projects_get_document": {"uid": str(document.uid)},
        "projects_download_document": {"uid": str(document.uid)},
        "projects_remove_document": {"uid": str(document.uid)},
        "mrv_correct_report": {"uid": str(submitted.uid)},
        "mrv_withdraw_report": {"uid": str(submitted.uid)},
        "mrv_set_issuance_instruction": {"uid": str(submitted.uid)},
        "projects_change_project_status": {"project_id": project.project_id},
        "mrv_get_report": {"uid": str(submitted.uid)},
        "mrv_verify_report": {"uid": str(submitted.uid)},
        "mrv_reject_report": {"uid": str(submitted.uid)},
        "mrv_answer_assignment": {"uid": str(submitted.uid)},
        "notifications_read_notification": {"uid": str(note.uid)},
        "mrv_record_opinion": {"uid": str(submitted.uid)},
        "mrv_reassign_vvb": {"uid": str(submitted.uid)},
        "mrv_approve_verification": {"uid": str(report.uid)},
        "mrv_approve_issuance": {"uid": str(report.uid)},
        "units_get_block": {"block_id": block.pk},
        "units_lookup_serial": {"text": str(block.serial_start)},
        "units_get_issuance": {"uid": str(issuance.uid)},
        "units_get_retirement": {"identifier": retirement.identifier},
        "units_get_transaction": {"identifier": waiting.identifier},
        "ledger_get_checkpoint": {"size": checkpoint.size},
        "ledger_get_entry": {"seq": 1},
        "ledger_cosigned_checkpoint": {"size": checkpoint.size},
        "ledger_inclusion_proof": {"seq": 1},
        "ledger_entry_opening": {"seq": opened_seq},
        "controls_get_approval": {"uid": str(approval.uid)},
        "controls_approve": {"uid": str(approval.uid)},
        "controls_reject": {"uid": str(approval.uid)},
        "controls_cancel_transaction": {"identifier": waiting.identifier},
        "controls_list_trusted": {"identifier": dev_acc},
        "controls_add_trusted": {"identifier": dev_acc},
        "controls_remove_trusted": {"identifier": dev_acc, "trusted": buyer_acc},
        "controls_list_destinations": {"identifier": dev_acc},
        "controls_add_destination": {"identifier": dev_acc},
        "controls_remove_destination": {"identifier": dev_acc, "registry": "CH-MX"},
        "article6_get_export": {"uid": str(sent.uid)},
        "controls_get_limits": {"identifier": dev_acc},
        "controls_set_limits": {"identifier": dev_acc},
        "controls_lift_freeze": {"uid": str(frozen.uid)},
        "kyc_get_kyc": {"uid": org},
        "kyc_submit_kyc": {"uid": org},
        "kyc_verify_kyc": {"uid": org},
        "kyc_upload_kyc_document": {"uid": org},
        "kyc_read_kyc_document": {"uid": str(kyc_doc.uid)},
        "kyc_decide_hit": {"hit_id": hit.pk},
        "aml_decide_alert": {"alert_id": alert.pk},
        "aml_release_hold": {"alert_id": alert.pk},
        "article6_get_authorisation": {"identifier": "MX-A6"},
        "article6_request_change": {"identifier": "MX-A6"},
        "article6_request_revocation": {"identifier": "MX-A6"},
        "article6_lookup_serials": {"text": str(block.serial_start)},
        "article6_block_status": {"block_id": block.pk},
        "cadt_delete_webhook": {"uid": str(hook.uid)},
        "cadt_webhook_deliveries": {"uid": str(logged_hook.uid)},
        **{op: {"project_id": project.project_id} for op in (
            "mrv_list_sources", "mrv_register_source", "mrv_submit_readings", "mrv_upload_readings",
            "mrv_list_anomalies", "mrv_project_benefits", "mrv_set_benefit_plan", "mrv_record_disbursement",
            "mrv_record_consent", "mrv_record_grievance")},
        "mrv_record_calibration": {"uid": str(meter.source.uid)},
        "mrv_list_readings": {"uid": str(meter.source.uid)},
        "mrv_report_computation": {"uid": str(computed.uid)},
        "mrv_serial_trail": {"text": str(block.serial_start)},
        "mrv_update_grievance": {"uid": str(grievance.uid)},
        "observer_get_import": {"uid": observed.uid},
        **{op: {"registry_id": "SE-MX"} for op in (
            "linkage_change_partner", "linkage_add_key", "linkage_retire_key", "linkage_suspend_partner",
            "linkage_remove_partner")},
        **{op: {"registry_id": "SE-MX", "transfer": str(uuid.uuid4())} for op in (
            "linkage_accept_transfer", "linkage_reject_transfer")},
        "linkage_resolve_mismatch": {"uid": str(uuid.uuid4())},
    }
    move = {"from_account": dev_acc, "quantity": 1}
    a6_terms = {"acquiring_parties": ["CH"], "purposes": ["ndc"], "quantity": 10, "vintage_from": 2022,
                "projects": [project.project_id], "authorisation_date": "2026-01-01"}
    body: dict[str, Any] = {
        "organisations_apply_organisation": {"name": f"Applicant {uuid.uuid4().hex[:6]}", "kind": "trader", "country": "CI"},
        "organisations_decide_organisation": {"status": "suspended", "reason": "matrix"},
        "organisations_accredit_organisation": {"accredited": True},
        "organisations_set_acts_for_clients": {"acts_for_clients": False},
        "organisations_create_user": {"username": f"mx-{uuid.uuid4().hex[:6]}", "password": testing.PASSWORD},
        "organisations_create_token": {"name": "mx", "scope": "read"},
        "organisations_change_user": {"role": "approver", "is_active": True},
        "organisations_open_account": {"name": "Second", "organisation": org},
        "projects_register_project": testing.project_fields(name="Matrix project"),
        "projects_update_project": {"description": "Updated by the matrix."},
        "projects_change_project_status": {"status": "on_hold", "reason": "matrix"},
        "mrv_submit_report": {"project": project.project_id, "period_start": "2024-01-01", "period_end": "2024-12-31",
                              "vintages": [{"vintage": 2024, "quantity": 5}], "vvb": str(reg.vvb_org.uid)},
        "mrv_verify_report": {"verified": [{"vintage": 2023, "quantity": 10}]},
        "mrv_reject_report": {"reason": "matrix"},
        "mrv_answer_assignment": {"decision": "accepted", "no_conflict_of_interest": True},
        "mrv_record_opinion": {"opinion": "negative", "comments": "matrix"},
        "mrv_reassign_vvb": {"vvb": str(reg.vvb_org.uid)},
        "notifications_set_preferences": {"email": True},
        "mrv_correct_report": {"period_start": "2023-01-01", "period_end": "2023-12-31",
                               "vintages": [{"vintage": 2023, "quantity": 8}], "vvb": str(reg.vvb_org.uid)},
        "mrv_withdraw_report": {"reason": "matrix"},
        "mrv_set_issuance_instruction": {"lines": [{"vintage": 2023, "quantity": 2, "retire": {
            "beneficiary": "Air Lagune", "purpose": "corsia", "compliance_period": "2024-2026"}}]},
        "projects_remove_document": {"reason": "uploaded by mistake"},
        "units_create_retirement": {**move, "beneficiary": "Town", "purpose": "voluntary"},
        "units_create_transfer": {**move, "to_account": buyer_acc},
        "units_create_transfer_batch": {"all_or_nothing": True,
                                        "items": [{**move, "to_account": buyer_acc, "idempotency_key": "mx-1"}]},
        "units_create_retirement_batch": {"all_or_nothing": True, "items": [
            {**move, "beneficiary": "Town", "purpose": "voluntary", "idempotency_key": "mx-1"}]},
        "units_create_cancellation": {**move, "reason": "matrix"},
        "units_transfer_and_retire": {**move, "to_account": buyer_acc, "beneficiary": "Town", "purpose": "voluntary"},
        "units_create_reversal": {"project": project.project_id, "quantity": 1, "reason": "matrix"},
        "controls_set_switch": {"transfers_suspended": True, "reason": "matrix"},
        "projects_add_methodology_version": {"code": "MX-N", "name": "New", "version": "1", "valid_from": "2030-01-01"},
        "projects_supersede_methodology_version": {"superseded_from": "2031-01-01"},
        "projects_add_reference_value": {"value": "MXU"},
        "projects_retire_reference_value": {"value": "CER"},
        "projects_reinstate_reference_value": {"value": "ERU"},
        "projects_add_eligibility_rule": {"name": "MX2", "fact": "host_party", "scope": "import", "accepted": ["CH"]},
        "projects_add_verification_approval": {"programme": "Other programme"},
        "controls_add_holiday": {"day": (clock.now().date() + dt.timedelta(days=401)).isoformat(), "name": "Matrix"},
        "controls_approve": {"request_hash": approval.request_hash},
        "controls_reject": {"reason": "matrix"},
        "controls_request_issuance": {"report": str(report.uid)},
        "controls_add_trusted": {"account": reg.other_developer_account.identifier},
        "controls_add_destination": {"party": "SE", "registry": "SE-MX"},
        "controls_set_limits": {"per_transfer": 10},
        "controls_create_freeze": {"scope": "account", "account": dev_acc, "reason": "matrix"},
        "kyc_submit_kyc": {"legal_name": "Mx SA", "registration_country": "CI", "registration_number": "R-1",
                           "registered_address": "Abidjan"},
        "kyc_decide_hit": {"status": "cleared", "note": "matrix"},
        "aml_decide_alert": {"status": "dismissed", "note": "matrix"},
        "aml_release_hold": {"note": "matrix"},
        "article6_request_authorisation": {**a6_terms, "identifier": "MX-A6", "cooperative_approach": "MX-CH",
                                           "first_transfer_definition": "issuance"},
        "article6_request_change": a6_terms,
        "article6_request_revocation": {"reason": "matrix"},
        "article6_create_use": {**move, "use": "voluntary_cancellation", "using_entity": "Town"},
        "article6_create_export": {"from_account": dev_acc, "ranges": [{"start": block.serial_start, "end": block.serial_start}],
                                   "destination_party": "CH", "destination_registry": "CH-TONNE",
                                   "destination_account": "CH-100-1"},
        "article6_create_import": {"signed_file": "not a note", "verifier_key": "nope"},
        "linkage_add_partner": {"registry_id": "NO-MX", "party": "NO", "endpoint": "https://no.example",
                                "verifier_key": "nope"},
        "linkage_change_partner": {"endpoint": "https://se.example/v2"},
        "linkage_add_key": {"verifier_key": "nope"},
        "linkage_retire_key": {"verifier_key": "nope"},
        "linkage_suspend_partner": {"reason": "matrix"},
        "linkage_check_transfer": {"signed_file": "not a note"},
        "linkage_receive_message": {"note": "not a note"},
        "linkage_receive_statement": {"note": "not a note"},
        "linkage_resolve_mismatch": {"reason": "matrix"},
        "linkage_propose_transfer": {"from_account": dev_acc, "ranges": [{"start": block.serial_start,
                                     "end": block.serial_start}], "destination_party": "CH",
                                     "destination_registry": "CH-TONNE", "destination_account": "CH-100-1"},
        "linkage_reject_transfer": {"reason": "matrix"},
        "linkage_remove_partner": {"reason": "matrix"},
        "cadt_add_sync_node": {"name": f"node-{uuid.uuid4().hex[:6]}", "url": "http://127.0.0.1:9/"},
        "cadt_create_webhook": {"url": "http://127.0.0.1:9/new"},
        "mrv_register_source": {"identifier": "MX-M2", "kind": "meter", "measurement": "fuel_saved", "unit": "t",
                                "public_key": "0" * 64},
        "mrv_record_calibration": {"document": str(document.uid), "valid_from": "2020-01-01",
                                   "valid_until": "2030-12-31"},
        "mrv_submit_readings": {"readings": [meter.reading(2, at + dt.timedelta(hours=1), "300")]},
        "mrv_compute_report": {"project": project.project_id, "methodology": "AMS-II.G", "version": "13.0",
                               "period_start": "2021-01-01", "period_end": "2021-12-31", "vvb": str(reg.vvb_org.uid),
                               "parameters": {"fnrb": "0.3"}},
        "mrv_set_benefit_plan": {"shares": []},
        "mrv_record_disbursement": {"share": str(share.uid), "amount": "10", "currency": "XOF",
                                    "paid_on": "2026-01-02", "evidence": str(document.uid)},
        "mrv_record_consent": {"community": "Village", "obtained_on": "2020-06-01", "document": str(document.uid)},
        "mrv_record_grievance": {"received_on": "2026-01-06", "channel": "phone", "summary": "Dust"},
        "mrv_update_grievance": {"status": "investigating"},
        "observer_run_findings": {"name_threshold": 90},
    }
    files = {
        "projects_upload_document": lambda: {"kind": "other", "file": SimpleUploadedFile("a.txt", b"a")},
        "kyc_upload_kyc_document": lambda: {"kind": "other", "file": SimpleUploadedFile("a.txt", b"a")},
        "cadt_import_file": lambda: {"file": SimpleUploadedFile("units.json", b"not json")},
        "mrv_upload_readings": lambda: {"file": SimpleUploadedFile("r.csv", readings.as_csv([meter.reading(3, at + dt.timedelta(hours=2), "1")]))},
        "observer_import_export": lambda: {"file": SimpleUploadedFile("x.csv", b"nothing,known\n1,2\n")},
        "kyc_load_list": lambda: {"source": "opensanctions",
                                  "file": SimpleUploadedFile("t.csv", b"id,schema,name,aliases\nx,Person,Nobody Here,\n")},
    }
    query = {"units_search_serials": {"q": str(block.serial_start)}, "ledger_consistency_proof": {"old": 1},
             "article6_aef_report": {"year": 2026}}
    callers = {
        "anon": Client(),
        "own": stepped_up(reg.developer),
        "other": stepped_up(reg.other_developer),
        "registry": stepped_up(reg.admin),
    }
    return {"path": path, "body": body, "files": files, "query": query, "callers": callers, "registry": reg}


def call(client: Client, method: str, url: str, body: Any, files: Any, query: dict[str, Any]) -> Any:
    if files is not None:
        return client.post(url, files())
    if method == "get":
        return client.get(url, query)
    if method == "delete":
        return client.delete(url)
    return getattr(client, method)(url, data=json.dumps(body if body is not None else {}), content_type="application/json",
                                   headers={"Idempotency-Key": uuid.uuid4().hex})


def outcome(response: Any) -> str:
    if response.status_code in (401, 403):
        return NO
    if response.status_code == 404:
        code = response.json().get("code") if response["Content-Type"].startswith("application/") else None
        return NO if code in HIDING_CODES else OK
    assert response.status_code < 500, response.content
    return OK


def test_every_operation_meets_its_declared_expectation(client: Client, settings: Any) -> None:
    settings.TONNE_API_RATE_PER_MINUTE = 10**6
    settings.TONNE_API_WRITE_RATE_PER_MINUTE = 10**6
    doc = client.get("/api/v1/openapi.json").json()
    operations = [(op["operationId"], method, path) for path, ops in doc["paths"].items() for method, op in ops.items()]
    undeclared = sorted(op for op, _, _ in operations if op not in EXPECTED)
    assert not undeclared, f"classify these operations in EXPECTED: {undeclared}"
    assert not set(EXPECTED) - {op for op, _, _ in operations}, "EXPECTED names operations that no longer exist"
    world = build_world(settings)
    wrong = []
    for op, method, template in operations:
        url = template.format(**world["path"].get(op, {}))
        for caller, expected in zip(CALLERS, EXPECTED[op], strict=True):
            with transaction.atomic():  # every call sees the same world
                response = call(world["callers"][caller], method, url, world["body"].get(op),
                                world["files"].get(op), world["query"].get(op, {}))
                transaction.set_rollback(True)
            got = outcome(response)
            if got != expected:
                wrong.append(f"{op} as {caller}: expected {expected}, got {response.status_code} "
                             f"{response.content[:160]!r}")
    assert not wrong, "\n".join(wrong)
