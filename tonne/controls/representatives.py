"""Changes of an organisation's authorised representatives: who asks, who
approves, when a new representative is in force, and who is told.

An organisation's authorised representatives are its active people with a
role that moves units or approves (EU Regulation 2019/1122: the account
holder nominates them, Art. 21; the national administrator approves).
Making, unmaking or re-roling one waits for a second, different person,
whoever asks (root and the registry administrator included): the holder
nominates and the registry administrator approves; registry administrators
are approved by another registry administrator. Someone made or re-roled a
representative approves nothing until the representative delay has passed,
and the organisation's other representatives are told of every change."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.db import transaction

from tonne.audit.models import AuditEvent
from tonne.audit.services import record
from tonne.controls import gate
from tonne.controls.models import Approval
from tonne.controls.services import APPROVER_ROLES, new_approval
from tonne.core import clock
from tonne.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from tonne.ledger.services import append_entry
from tonne.organisations import notices
from tonne.organisations.models import User
from tonne.organisations.services import is_registry_administrator, require_active_member

Category = AuditEvent.Category
REPRESENTATIVE_ROLES = notices.REPRESENTATIVE_ROLES


def member_state(member: User) -> dict[str, Any]:
    return {"role": member.role, "active": member.is_active}


def representative_change_needs_approval(actor: User, before: dict[str, Any], after: dict[str, Any]) -> bool:
    if "representatives" not in settings.TONNE_FOUR_EYES or before == after:
        return False
    return any(state["active"] and state["role"] in REPRESENTATIVE_ROLES for state in (before, after))


def require_approver(actor: User, approval: Approval) -> None:
    """Never the person who asked nor the person changed; a registry
    administrator who may approve; or, for a holder's representatives, an
    approver of the holder when the administrator asked (the holder's
    consent) or when the country lets holders approve their own nominations."""
    if actor.username == approval.payload.get("username") and actor.organisation_id == approval.organisation_id:
        raise PermissionDenied("SELF_APPROVAL_NOT_ALLOWED", "A change of your own role is approved by someone else.")
    if is_registry_administrator(actor):
        if not actor.is_superuser and actor.role not in APPROVER_ROLES:
            raise PermissionDenied("ROLE_NOT_ALLOWED", f"Your role ({actor.role}) may not approve.", details={"role": actor.role})
        return
    org = require_active_member(actor, APPROVER_ROLES)
    if org.id != approval.organisation_id:
        raise NotFound("APPROVAL_NOT_FOUND", "No such approval request.")
    if org.kind == org.Kind.GOVERNMENT:
        raise PermissionDenied("REGISTRY_ADMINISTRATOR_APPROVES", "Another registry administrator approves this change.")
    if settings.TONNE_REPRESENTATIVES_APPROVED_BY != "holder" and not is_registry_administrator(approval.initiated_by):
        raise PermissionDenied(
            "REGISTRY_ADMINISTRATOR_APPROVES",
            "The registry administrator approves a holder's nomination of its representatives.",
        )


def in_force_from(now: dt.datetime) -> dt.datetime | None:
    days = settings.TONNE_REPRESENTATIVE_DELAY_WORKING_DAYS
    return gate.calendar().noon_of_working_day(now, days) if days > 0 else None


def request_representative_change(*, actor: User, member: User, after: dict[str, Any]) -> Approval:
    """Record the change of `member` to `after` ({role, active}) for a second person to approve."""
    organisation = member.organisation
    if organisation is None:
        raise ValidationFailed("ORGANISATION_REQUIRED", "A representative belongs to an organisation.")
    if Approval.objects.filter(
        action=Approval.Action.REPRESENTATIVE_CHANGE,
        status=Approval.Status.PENDING,
        organisation_id=organisation.pk,
        payload__username=member.username,
    ).exists():
        raise Conflict(
            "REPRESENTATIVE_CHANGE_PENDING",
            f"A change of {member.username} already waits for approval; decide or cancel it first.",
            field="username",
            details={"username": member.username},
        )
    payload = {
        "organisation": str(organisation.uid),
        "username": member.username,
        "before": member_state(member),
        "after": {"role": after["role"], "active": bool(after["active"])},
    }
    approval = new_approval(
        actor=actor, action=Approval.Action.REPRESENTATIVE_CHANGE, account=None, payload=payload,
        organisation_id=organisation.pk,
    )
    notices.representatives_changed(
        organisation, exclude=(actor.pk, member.pk),
        subject=f"{member.username}: a change of your representatives awaits approval",
        message=(
            f"{actor.username} asked to change {member.username} of {organisation.name} "
            f"from {payload['before']} to {payload['after']}. It takes effect only once a second person approves. "
            "If you did not expect it, tell the registry administrator."
        ),
    )
    return approval


def apply_change(payload: dict[str, Any], *, requested_by: User, approved_by: User | None) -> User:
    member = (
        User.objects.select_for_update()
        .select_related("organisation")
        .filter(username=payload["username"], organisation__uid=payload["organisation"])
        .first()
    )
    if member is None or member_state(member) != payload["before"]:
        raise Conflict("APPROVAL_STALE", "This person changed since the request was made; ask again.")
    if approved_by is not None and approved_by.pk == member.pk:
        raise PermissionDenied("SELF_APPROVAL_NOT_ALLOWED", "A change of your own role is approved by someone else.")
    before, after = payload["before"], payload["after"]
    member.role = after["role"]
    member.is_active = after["active"]
    fields = ["role", "is_active"]
    if after["active"] and after["role"] in REPRESENTATIVE_ROLES and (not before["active"] or before["role"] != after["role"]):
        member.in_force_from = in_force_from(clock.now())
        fields.append("in_force_from")
    member.save(update_fields=fields)
    actor = approved_by or requested_by
    append_entry(kind="user.changed", actor=actor, data={
        "username": member.username, "organisation": payload["organisation"], **after,
        # The representative delay: verify holds the row to it.
        "in_force_from": member.in_force_from.isoformat() if member.in_force_from else None,
    })
    record(Category.ADMIN_ACTION, "member.changed", actor=actor, target=member.username, detail={
        **payload, "requested_by": requested_by.username,
        "in_force_from": member.in_force_from.isoformat() if member.in_force_from else None,
    })
    assert member.organisation is not None
    notices.representatives_changed(
        member.organisation, exclude=(actor.pk, member.pk),
        subject=f"{member.username}: your representatives changed",
        message=(
            f"{member.username} of {member.organisation.name} is now {after['role']}"
            f"{'' if after['active'] else ' (inactive)'}: asked by {requested_by.username}"
            f"{f', approved by {approved_by.username}' if approved_by else ''}. "
            "If you did not expect it, tell the registry administrator."
        ),
    )
    return member


def pending_representative_change(member: User) -> Approval | None:
    if member.organisation_id is None:
        return None
    return Approval.objects.filter(
        action=Approval.Action.REPRESENTATIVE_CHANGE,
        status=Approval.Status.PENDING,
        organisation_id=member.organisation_id,
        payload__username=member.username,
    ).first()


def change_member(*, actor: User, member: User, role: str, active: bool) -> Approval | User:
    """Change a person's role or (de)activate them: at once, or, for a change
    of the organisation's authorised representatives, after a second person's approval."""
    if role not in User.Role.values:
        raise ValidationFailed("ROLE_INVALID", f"role must be one of: {', '.join(User.Role.values)}.", field="role", details={"allowed": list(User.Role.values)})
    if member.organisation_id is None:
        raise NotFound("USER_NOT_FOUND", "No such user.")
    if not is_registry_administrator(actor):
        org = require_active_member(actor, (User.Role.ADMIN,))
        if org.pk != member.organisation_id:
            raise NotFound("USER_NOT_FOUND", "No such user.")
        if member.pk == actor.pk:
            raise PermissionDenied("SELF_CHANGE_NOT_ALLOWED", "Another administrator changes your own role.")
    after = {"role": role, "active": bool(active)}
    with transaction.atomic():
        if representative_change_needs_approval(actor, member_state(member), after):
            return request_representative_change(actor=actor, member=member, after=after)
        payload = {"organisation": str(member.organisation.uid) if member.organisation else "",
                   "username": member.username, "before": member_state(member), "after": after}
        if payload["before"] == after:
            return member
        return apply_change(payload, requested_by=actor, approved_by=None)
