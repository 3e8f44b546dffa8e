"""Reference data the registry administrator keeps in the workspace: the
country's public holidays (every delay counted in working days skips them)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from tonne.controls import holidays
from tonne.controls.models import Holiday
from tonne.core import clock
from tonne.core.errors import RegistryError
from tonne.workspace.views.common import (
    ADMIN,
    _user,
    carries_step_up,
    role_required,
    submit,
)


class HolidayForm(forms.Form):
    day = forms.DateField(label=gettext_lazy("Date"), widget=forms.DateInput(attrs={"type": "date"}))
    name = forms.CharField(label=gettext_lazy("Name"), max_length=100)


def _page(request: HttpRequest, form: HolidayForm, error: RegistryError | None = None, status: int = 200) -> HttpResponse:
    context = {
        "form": form,
        "error": error,
        "holidays": Holiday.objects.select_related("added_by"),
        "from_settings": sorted(holidays.declared() - set(Holiday.objects.values_list("day", flat=True))),
        "today": clock.now().date(),
    }
    return render(request, "workspace/holidays.html", context, status=status)


@role_required(ADMIN)
def holiday_list(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    if request.method != "POST":
        return _page(request, HolidayForm())
    form = HolidayForm(request.POST)

    def done(added: Holiday) -> HttpResponse:
        messages.success(request, _("%(day)s is now a holiday: %(name)s.")
                         % {"day": date_format(added.day, "DATE_FORMAT"), "name": added.name})
        return redirect("workspace:holidays")

    return submit(request, form, lambda data: holidays.add_holiday(actor=user, day=data["day"], name=data["name"]),
                  back=reverse("workspace:holidays"), done=done,
                  refused_page=lambda exc: _page(request, form, exc, status=400))


@carries_step_up
@require_POST
@role_required(ADMIN)
def holiday_remove(request: HttpRequest, day: str) -> HttpResponse:
    user = _user(request)
    back = reverse("workspace:holidays")

    def done(_result: None) -> HttpResponse:
        messages.success(request, _("%(day)s is no longer a holiday.") % {"day": day})
        return redirect(back)

    return submit(request, None, lambda _data: holidays.remove_holiday(actor=user, day=day), back=back, done=done,
                  step_up=True,  # it shortens delays
                  refused_page=lambda exc: _page(request, HolidayForm(), exc, status=400))
