"""Benefit sharing and safeguards, recorded rather than promised: the plan
(who receives what share of units or proceeds, how often), the country's
minimum community shares by project type, disbursements with evidence,
consent (FPIC) evidence and grievances."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Sum

from tonne.core import clock
from tonne.core.errors import PermissionDenied, ValidationFailed
from tonne.ledger.services import append_entry
from tonne.organisations.models import Account, User
from tonne.organisations.services import is_registry_administrator, require_active_member
from tonne.projects.models import (
    BenefitShare,
    ConsentRecord,
    Disbursement,
    Document,
    Grievance,
    Project,
)

EDITORS = (User.Role.ADMIN, User.Role.INITIATOR)
MAX_SHARES = 20
MONTHS: dict[str, int] = {BenefitShare.Frequency.QUARTERLY: 3, BenefitShare.Frequency.ANNUAL: 12}


def minimum_community_basis_points(project: Project) -> int:
    """The country's minimum community share for the project's types
    (setting TONNE_BENEFIT_MINIMUM_BASIS_POINTS: project type → basis points)."""
    minimums: dict[str, int] = getattr(settings, "TONNE_BENEFIT_MINIMUM_BASIS_POINTS", {})
    return max((minimums.get(t, 0) for t in project.types or []), default=0)


def _developer(actor: User, project: Project, *, admin_too: bool = False) -> None:
    if admin_too and is_registry_administrator(actor):
        return
    org = require_active_member(actor, EDITORS)
    if project.developer_id != org.id:
        raise PermissionDenied("PROJECT_NOT_YOURS", f"Project {project.project_id} belongs to another organisation.", details={"project": project.project_id})


def _text(row: dict[str, Any], name: str, limit: int, *, required: bool = True) -> str:
    value = row.get(name)
    if value in (None, ""):
        if required:
            raise ValidationFailed("FIELD_REQUIRED", f"{name} is required.", field=name)
        return ""
    if not isinstance(value, str):
        raise ValidationFailed("FIELD_INVALID", f"{name} must be text.", field=name)
    if len(value.strip()) > limit:
        raise ValidationFailed("FIELD_TOO_LONG", f"{name} is longer than {limit} characters.", field=name)
    return value.strip()


def _date(value: Any, name: str) -> dt.date:
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise ValidationFailed("FIELD_INVALID", f"{name} must be a date (YYYY-MM-DD).", field=name) from None


def _amount(value: Any, name: str) -> Decimal:
    if isinstance(value, float | bool):
        raise ValidationFailed("FIELD_INVALID", f"{name} must be a decimal string.", field=name)
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise ValidationFailed("FIELD_INVALID", f"{name} must be a decimal number.", field=name) from None
    if not amount.is_finite() or amount <= 0 or amount >= Decimal(10) ** 16 or amount != amount.quantize(Decimal("0.01")):
        raise ValidationFailed("FIELD_INVALID", f"{name} must be positive, with at most 2 decimals.", field=name)
    return amount


def _document(uid: Any, project: Project, name: str) -> Document:
    try:
        return Document.objects.get(uid=uuid.UUID(str(uid)), project=project, removed_at__isnull=True)
    except (ValueError, Document.DoesNotExist):
        raise ValidationFailed("DOCUMENT_NOT_FOUND", f"{name} must be a document uploaded to this project.", field=name) from None


@transaction.atomic
def set_benefit_plan(*, actor: User, project: Project, shares: list[dict[str, Any]]) -> list[BenefitShare]:
    """Replace the project's plan. Unit shares name the account they are
    issued to; money shares the amount planned per period and its first due date."""
    project = Project.objects.select_for_update(no_key=True).get(pk=project.pk)
    _developer(actor, project)
    if not isinstance(shares, list) or len(shares) > MAX_SHARES:
        raise ValidationFailed("PLAN_INVALID", f"A plan is a list of at most {MAX_SHARES} shares.", field="shares", details={"limit": MAX_SHARES})
    now = clock.now()
    rows = []
    for row in shares:
        if not isinstance(row, dict):
            raise ValidationFailed("PLAN_INVALID", "Each share is an object.", field="shares")
        basis, kind, freq = row.get("basis"), row.get("beneficiary_kind"), row.get("frequency")
        if basis not in BenefitShare.Basis.values or kind not in BenefitShare.BeneficiaryKind.values \
                or freq not in BenefitShare.Frequency.values:
            raise ValidationFailed("PLAN_INVALID", "Each share needs a basis (units, proceeds), a beneficiary_kind "
                                   "(community, fund, other) and a frequency (per_issuance, quarterly, annual).")
        bp = row.get("share_basis_points")
        if not isinstance(bp, int) or isinstance(bp, bool) or not 0 < bp <= 10000:
            raise ValidationFailed("SHARE_INVALID", "share_basis_points is 1 to 10000.", field="share_basis_points")
        share = BenefitShare(uid=uuid.uuid4(), project=project, beneficiary=_text(row, "beneficiary", 200),
                             beneficiary_kind=kind, basis=basis, share_basis_points=bp, frequency=freq,
                             created_by=actor, created_at=now)
        if basis == BenefitShare.Basis.UNITS:
            if freq != BenefitShare.Frequency.PER_ISSUANCE:
                raise ValidationFailed("PLAN_INVALID", "Unit shares are allocated at each issuance (per_issuance).")
            share.account = Account.objects.filter(identifier=str(row.get("account", "")), type=Account.Type.HOLDING,
                                                   status=Account.Status.OPEN).first()
            if share.account is None:
                raise ValidationFailed("ACCOUNT_NOT_FOUND", "A unit share needs the beneficiary's open holding account.",
                                       field="account")
        else:
            share.currency = _text(row, "currency", 3).upper()
            share.planned_amount = _amount(row.get("planned_amount"), "planned_amount")
            share.first_due = _date(row.get("first_due"), "first_due")
        rows.append(share)
    units_bp = sum(s.share_basis_points for s in rows if s.basis == BenefitShare.Basis.UNITS)
    if units_bp > 10000:
        raise ValidationFailed("SHARES_EXCEED_WHOLE", "Unit shares add up to more than 100 %.", field="shares")
    minimum = minimum_community_basis_points(project)
    community = sum(s.share_basis_points for s in rows if s.beneficiary_kind == BenefitShare.BeneficiaryKind.COMMUNITY)
    if community < minimum:
        raise ValidationFailed("BENEFIT_SHARE_BELOW_MINIMUM", f"Communities must receive at least {minimum} basis "
                               f"points for this project type; the plan gives {community}.", field="shares", details={"minimum": minimum, "given": community})
    BenefitShare.objects.filter(project=project, active=True).update(active=False)
    BenefitShare.objects.bulk_create(rows)
    append_entry(kind="projects.benefit_plan_set", actor=actor, data={
        "project": project.project_id,
        "shares": [{"beneficiary": s.beneficiary, "kind": s.beneficiary_kind, "basis": s.basis,
                    "basis_points": s.share_basis_points, "frequency": s.frequency,
                    "account": s.account.identifier if s.account else None, "currency": s.currency or None,
                    "planned_amount": str(s.planned_amount) if s.planned_amount else None} for s in rows]})
    return rows


def unit_share_parts(project: Project, net: int) -> list[tuple[BenefitShare, Account, int]]:
    """How many of an issuance's `net` units (after buffer and other levies)
    go to each beneficiary's account: each share rounded down, so the total
    never exceeds `net`. Called by the issuance inside its transaction."""
    parts = []
    for share in BenefitShare.objects.filter(project=project, active=True, basis=BenefitShare.Basis.UNITS) \
            .select_related("account").order_by("id"):
        quantity = net * share.share_basis_points // 10000
        if quantity > 0 and share.account is not None:
            parts.append((share, share.account, quantity))
    return parts


@transaction.atomic
def record_disbursement(*, actor: User, share: BenefitShare, amount: Any, currency: str, paid_on: Any,
                        evidence: Any) -> Disbursement:
    share = BenefitShare.objects.select_for_update().select_related("project").get(pk=share.pk)
    _developer(actor, share.project)
    if share.basis != BenefitShare.Basis.PROCEEDS:
        raise ValidationFailed("SHARE_NOT_MONETARY", "Unit shares are allocated at issuance, not disbursed.")
    value, paid = _amount(amount, "amount"), _date(paid_on, "paid_on")
    if (currency or "").upper() != share.currency:
        raise ValidationFailed("CURRENCY_MISMATCH", f"This share is planned in {share.currency}.", field="currency", details={"currency": share.currency})
    if paid > clock.now().date():
        raise ValidationFailed("DATE_IN_FUTURE", "A disbursement cannot be dated in the future.", field="paid_on")
    doc = _document(evidence, share.project, "evidence")
    row = Disbursement.objects.create(uid=uuid.uuid4(), share=share, amount=value, currency=share.currency, paid_on=paid,
                                      evidence=doc, recorded_by=actor, recorded_at=clock.now())
    append_entry(kind="projects.disbursement_recorded", actor=actor, data={
        "project": share.project.project_id, "beneficiary": share.beneficiary, "amount": str(value),
        "currency": share.currency, "paid_on": paid, "evidence_sha256": doc.sha256})
    return row


@transaction.atomic
def record_consent(*, actor: User, project: Project, community: str, obtained_on: Any, document: Any) -> ConsentRecord:
    _developer(actor, project)
    doc = _document(document, project, "document")
    row = ConsentRecord.objects.create(uid=uuid.uuid4(), project=project, community=_text({"c": community}, "c", 200),
                                       obtained_on=_date(obtained_on, "obtained_on"), document=doc, recorded_by=actor,
                                       recorded_at=clock.now())
    append_entry(kind="projects.consent_recorded", actor=actor, data={
        "project": project.project_id, "community": row.community, "obtained_on": row.obtained_on,
        "document_sha256": doc.sha256})
    return row


@transaction.atomic
def record_grievance(*, actor: User, project: Project, received_on: Any, channel: str, summary: str) -> Grievance:
    """The developer or the administrator records a grievance received."""
    _developer(actor, project, admin_too=True)
    text = _text({"summary": summary}, "summary", 2000)
    row = Grievance.objects.create(uid=uuid.uuid4(), project=project, received_on=_date(received_on, "received_on"),
                                   channel=_text({"channel": channel}, "channel", 100), summary=text,
                                   recorded_by=actor, updated_at=clock.now())
    append_entry(kind="projects.grievance_received", actor=actor, data={
        "project": project.project_id, "grievance": str(row.uid), "received_on": row.received_on, "summary": text})
    return row


@transaction.atomic
def update_grievance(*, actor: User, grievance: Grievance, status: str, resolution: str = "") -> Grievance:
    grievance = Grievance.objects.select_for_update().select_related("project").get(pk=grievance.pk)
    _developer(actor, grievance.project, admin_too=True)
    if status not in Grievance.Status.values:
        raise ValidationFailed("STATUS_INVALID", f"status must be one of {', '.join(Grievance.Status.values)}.", details={"allowed": list(Grievance.Status.values)})
    text = _text({"resolution": resolution}, "resolution", 2000, required=status in ("resolved", "dismissed"))
    grievance.status, grievance.resolution, grievance.updated_at = status, text, clock.now()
    grievance.save(update_fields=["status", "resolution", "updated_at"])
    append_entry(kind="projects.grievance_updated", actor=actor, data={
        "project": grievance.project.project_id, "grievance": str(grievance.uid), "status": status, "resolution": text})
    return grievance


@dataclass(frozen=True)
class ShareFigures:
    share: BenefitShare
    planned: Decimal  # units, or money due to date
    recorded: Decimal  # units allocated, or money disbursed
    periods_due: int
    overdue: bool


def _add_months(day: dt.date, months: int) -> dt.date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return dt.date(year, month, min(day.day, 28))


def periods_due(share: BenefitShare, today: dt.date, issuances: int) -> int:
    if share.frequency == BenefitShare.Frequency.PER_ISSUANCE:
        return issuances
    if share.first_due is None or share.first_due > today:
        return 0
    count, due = 0, share.first_due
    while due <= today and count < 1000:
        count += 1
        due = _add_months(share.first_due, MONTHS[share.frequency] * count)
    return count


def benefit_figures(project: Project, units_allocated: dict[int, int] | None = None) -> list[ShareFigures]:
    """Planned against recorded for every active share. Unit shares: what the
    plan gives of the net units issued so far against what reached the
    beneficiary's account (counted by the caller, from the unit blocks)."""
    today = clock.now().date()
    issued = list(project.issuances.values_list("quantity", "buffer_quantity"))
    out = []
    for share in BenefitShare.objects.filter(project=project, active=True).select_related("account").order_by("id"):
        if share.basis == BenefitShare.Basis.UNITS:
            planned = Decimal(sum((q - b) * share.share_basis_points // 10000 for q, b in issued))
            recorded = Decimal((units_allocated or {}).get(share.pk, 0))
            out.append(ShareFigures(share, planned, recorded, len(issued), recorded < planned))
            continue
        due = periods_due(share, today, len(issued))
        planned = (share.planned_amount or Decimal(0)) * due
        recorded = share.disbursements.aggregate(s=Sum("amount"))["s"] or Decimal(0)
        out.append(ShareFigures(share, planned, recorded, due, recorded < planned))
    return out
