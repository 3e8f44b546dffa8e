"""The registry's front page: headline figures, serial lookup, ledger state.
(The full web application for every role builds on these services.)"""

from __future__ import annotations

from django.db.models import Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from tonne.core.errors import RegistryError
from tonne.ledger.models import Checkpoint, LedgerHead
from tonne.organisations.models import Account
from tonne.projects.models import Project
from tonne.units.models import Issuance, UnitBlock


def _units_in(account_type: str) -> int:
    total = UnitBlock.objects.filter(account__type=account_type).aggregate(
        n=Sum("serial_end") - Sum("serial_start")
    )["n"]
    count = UnitBlock.objects.filter(account__type=account_type).count()
    return int(total or 0) + count


def home(request: HttpRequest) -> HttpResponse:
    lookup = None
    error = None
    query = request.GET.get("serial", "").strip()
    if query:
        from tonne.units import selectors

        try:
            user = request.user if request.user.is_authenticated else None
            lookup = selectors.lookup_serials(user, query, require_match=False)
        except RegistryError as exc:
            error = exc
    context = {
        "projects": Project.objects.exclude(status__in=["draft", "withdrawn", "rejected"]).count(),
        "issued": Issuance.objects.aggregate(n=Sum("quantity"))["n"] or 0,
        "retired": _units_in(Account.Type.RETIREMENT),
        "cancelled": _units_in(Account.Type.CANCELLATION),
        "ledger_size": LedgerHead.objects.get(pk=1).size,
        "checkpoint": Checkpoint.objects.order_by("-size").first(),
        "query": query,
        "lookup": lookup,
        "error": error,
    }
    return render(request, "core/home.html", context)
