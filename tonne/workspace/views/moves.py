"""Moving units (transfer, retirement, transfer and retire) and the transactions that record them."""

from __future__ import annotations

from typing import Any, cast

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.formats import date_format
from django.utils.timezone import localtime
from django.utils.translation import gettext as _

from tonne.access import policy as access_policy
from tonne.controls import services as controls
from tonne.controls.models import PendingMove
from tonne.core.errors import RegistryError
from tonne.organisations import selectors as org_selectors
from tonne.organisations import services as orgs
from tonne.organisations.models import Account
from tonne.units import onward
from tonne.units import selectors as unit_selectors
from tonne.units import services as units
from tonne.units.domain import Selection, retirement_details
from tonne.units.models import WAITING, Transaction, UnitBlock
from tonne.workspace import forms as wf
from tonne.workspace import inbox as inbox_sources
from tonne.workspace.views.common import (
    ADMIN,
    HOLDER,
    STEP_UP_CODES,
    _user,
    carries_step_up,
    refused,
    role_required,
    roles_of,
    show_error,
    step_up_redirect,
)

ONWARD = "transfer_and_retire"  # the workspace's name for units.onward's request


def _move(request: HttpRequest, kind: str) -> HttpResponse:
    """Transfer or retirement: form → confirmation (the exact serial ranges,
    computed by the registry's own selection rule) → done. The form carries
    one Idempotency-Key from first display to confirmation, so submitting the
    confirmation twice moves the units once."""
    user = _user(request)
    accounts = list(
        org_selectors.accounts_for(user).filter(
            organisation=user.organisation, type=Account.Type.HOLDING, status=Account.Status.OPEN
        )
    )
    held = (
        UnitBlock.objects.filter(account__in=accounts)
        .values_list("project__project_id", "project__name")
        .distinct()
        .order_by("project__project_id")
    )
    projects_held = [(pid, f"{pid} {name}") for pid, name in held]
    form_class = {Transaction.Kind.TRANSFER: wf.TransferForm, ONWARD: wf.TransferRetireForm}.get(kind, wf.RetireForm)
    template = "workspace/move.html"
    context: dict[str, Any] = {"kind": kind}
    data = request.POST if request.method == "POST" else None
    if data is None:
        initial = {"idempotency_key": wf.new_idempotency_key(), "from_account": request.GET.get("from", "")}
        form = form_class(initial=initial, accounts=accounts, projects=projects_held)
        return render(request, template, {**context, "form": form})
    form = form_class(data, accounts=accounts, projects=projects_held)
    step = data.get("step", "preview")  # back from the step-up: "confirm", carried out
    if step == "edit" or not form.is_valid():
        return render(request, template, {**context, "form": form})
    cleaned = form.cleaned_data
    if kind in (Transaction.Kind.TRANSFER, ONWARD):
        to_account = cleaned["to_account"]
    else:
        to_account = orgs.system_account(Account.Type.RETIREMENT).identifier
    try:
        if step == "confirm":
            access_policy.require_step_up(request, user)
            confirmed = [r.split("-") for r in data.getlist("confirmed_range")]
            selection = Selection.build(ranges=[(int(a), int(b)) for a, b in confirmed])
            if kind == ONWARD:
                moved, retired = onward.transfer_and_retire(
                    actor=user, from_account=cleaned["from_account"], to_account=to_account, selection=selection,
                    beneficiary=cleaned["beneficiary"], purpose=cleaned["purpose"],
                    jurisdiction=cleaned["jurisdiction"], reason=cleaned["reason"],
                    compliance_period=cleaned["compliance_period"], using_entity=cleaned["using_entity"],
                    idempotency_key=cleaned["idempotency_key"],
                )
                txn = retired or moved  # the retirement once done; else the transfer that waits
            elif kind == Transaction.Kind.TRANSFER:
                txn = units.transfer(
                    actor=user,
                    from_account=cleaned["from_account"],
                    to_account=to_account,
                    selection=selection,
                    idempotency_key=cleaned["idempotency_key"],
                )
            else:
                txn = units.retire(
                    actor=user,
                    from_account=cleaned["from_account"],
                    selection=selection,
                    beneficiary=cleaned["beneficiary"],
                    purpose=cleaned["purpose"],
                    jurisdiction=cleaned["jurisdiction"],
                    reason=cleaned["reason"],
                    idempotency_key=cleaned["idempotency_key"],
                    **cast(wf.RetireForm, form).use_details(),
                )
            if txn.replayed:
                messages.info(request, _("This request was already carried out; nothing was moved twice."))
            else:
                _say_outcome(request, txn)
            return redirect("workspace:transaction", identifier=txn.identifier)
        if kind != Transaction.Kind.TRANSFER:  # its own rules before the confirmation, not after
            retirement_details(cleaned["beneficiary"], cleaned["purpose"], cleaned["jurisdiction"], cleaned["reason"],
                               **cast(wf.RetireForm, form).use_details())
        ranges = form.parsed_ranges()
        selection = Selection.build(
            ranges=ranges or None,
            quantity=None if ranges else cleaned["quantity"],
            project=cleaned["project"] or None,
            vintage=cleaned["vintage"],
        )
        preview = unit_selectors.preview_move(
            user, kind=Transaction.Kind.TRANSFER if kind == ONWARD else kind, from_account=cleaned["from_account"], to_account=to_account, selection=selection
        )
    except (RegistryError, ValueError) as exc:
        if not isinstance(exc, RegistryError):
            raise Http404 from exc  # a tampered confirmation
        if exc.code in STEP_UP_CODES:
            return step_up_redirect(request, exc, request.path)
        show_error(form, exc, {"ranges": "ranges"})
        return render(request, template, {**context, "form": form, "error": exc}, status=exc.status)
    return render(request, "workspace/move_confirm.html", {**context, "form": form, "preview": preview})


def _settles_at(txn: Transaction) -> str:
    pending = PendingMove.objects.filter(transaction=txn).first()
    if pending is None or pending.execute_at is None:
        return ""
    return date_format(localtime(pending.execute_at), "DATETIME_FORMAT")


def _say_outcome(request: HttpRequest, txn: Transaction) -> None:
    """Completed, waiting for a second person, or delayed until a time."""
    ids = {"id": txn.identifier}
    if txn.status == Transaction.Status.COMPLETED:
        messages.success(request, _("Transaction %(id)s completed.") % ids)
    elif txn.status == Transaction.Status.AWAITING_APPROVAL:
        messages.info(
            request,
            _("Transaction %(id)s awaits approval by a second person of your organisation; no units have moved yet.") % ids,
        )
    elif txn.status == Transaction.Status.DELAYED:
        messages.info(
            request,
            _("Transaction %(id)s is delayed: the units move on %(when)s unless it is cancelled before.")
            % {**ids, "when": _settles_at(txn)},
        )
    else:
        messages.error(request, _("Transaction %(id)s is %(status)s.") % {**ids, "status": txn.status})


@carries_step_up
@role_required(HOLDER)
def transfer(request: HttpRequest) -> HttpResponse:
    return _move(request, Transaction.Kind.TRANSFER)


@carries_step_up
@role_required(HOLDER)
def retire(request: HttpRequest) -> HttpResponse:
    return _move(request, Transaction.Kind.RETIREMENT)


@carries_step_up
@role_required(HOLDER)
def transfer_and_retire(request: HttpRequest) -> HttpResponse:
    return _move(request, ONWARD)


@role_required(ADMIN, HOLDER)
def transaction_list(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    qs = unit_selectors.transactions_for(user)
    kind = request.GET.get("kind", "")
    if kind:
        qs = qs.filter(kind=kind)
    page = Paginator(qs.order_by("-created_at", "-id"), 50).get_page(request.GET.get("page"))
    return render(
        request, "workspace/transactions.html", {"page": page, "kind": kind, "kinds": Transaction.Kind.values}
    )


@role_required(ADMIN, HOLDER)
def transaction_detail(request: HttpRequest, identifier: str) -> HttpResponse:
    user = _user(request)
    txn = unit_selectors.transactions_for(user).filter(identifier=identifier).first()
    if txn is None:
        raise Http404
    waiting = txn.status in WAITING
    approval = getattr(txn, "approval", None)
    return render(
        request,
        "workspace/transaction.html",
        {
            "txn": txn,
            "waiting": waiting,
            "settles_at": _settles_at(txn),
            "pending_serials": inbox_sources.serials_of(txn.pending_move.ranges) if waiting else [],
            "approval": approval,
            "blocks": unit_selectors.transaction_blocks(txn),
            "may_cancel": waiting and _may_cancel(user, txn),
            # The certificate exists once the retirement is completed, not while it waits.
            "certificate": certificate_url(txn.identifier)
            if txn.kind == Transaction.Kind.RETIREMENT and txn.status == Transaction.Status.COMPLETED
            else "",
        },
    )


def _may_cancel(user: Any, txn: Transaction) -> bool:
    """The one who asked, or the sending holder: as controls.cancel_waiting decides
    (the receiving holder sees the transaction, and no Cancel)."""
    if txn.from_account is None or not roles_of(user) & {ADMIN, HOLDER}:
        return False
    if txn.initiated_by_id == user.pk:
        return True
    try:
        controls.require_account_holder(user, txn.from_account)
    except RegistryError:
        return False
    return True


@role_required(ADMIN, HOLDER)
def transaction_cancel(request: HttpRequest, identifier: str) -> HttpResponse:
    """Stop a move that waits for approval or settlement (until it is executed)."""
    if request.method != "POST":
        return redirect("workspace:transaction", identifier=identifier)
    user = _user(request)
    if not unit_selectors.transactions_for(user).filter(identifier=identifier).exists():
        raise Http404
    try:
        txn = controls.cancel_waiting(actor=user, identifier=identifier)
    except RegistryError as exc:
        messages.error(request, refused(exc))
    else:
        messages.success(request, _("Transaction %(id)s was cancelled; no units moved.") % {"id": txn.identifier})
    return redirect("workspace:transaction", identifier=identifier)


def certificate_url(identifier: str) -> str:
    """The public retirement certificate (served by the portal)."""
    return f"/certificates/{identifier}/"
