"""A project's data sources in the workspace: the developer registers a meter,
sensor, logger, remote-sensing product or laboratory with its public key, and
adds its calibration certificates — through the same services as the API."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from tonne.core.errors import RegistryError
from tonne.mrv import sources as mrv_sources
from tonne.mrv.models import DataSource
from tonne.workspace import dmrv_forms as df
from tonne.workspace.views.common import DEVELOPER, _user, role_required
from tonne.workspace.views.projects import _project


@role_required(DEVELOPER)
def source_new(request: HttpRequest, project_id: str) -> HttpResponse:
    user = _user(request)
    project = _project(user, project_id)
    form = df.SourceForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                source = mrv_sources.register_source(actor=user, project=project, data=form.as_service())
            except RegistryError as exc:
                df.show_refusal(form, exc)
            else:
                messages.success(request, _("Data source %(source)s registered. Add its calibration certificate: "
                                            "readings taken outside a calibration are refused.")
                                 % {"source": source.identifier})
                return redirect("workspace:source-calibration", project_id=project.project_id, uid=str(source.uid))
        status = 400
    return render(request, "workspace/mrv_source_form.html", {"project": project, "form": form}, status=status)


@role_required(DEVELOPER)
def source_calibration(request: HttpRequest, project_id: str, uid: str) -> HttpResponse:
    user = _user(request)
    project = _project(user, project_id)
    try:
        source = DataSource.objects.get(project=project, uid=uuid.UUID(uid))
    except (ValueError, DataSource.DoesNotExist):
        raise Http404(_("No such data source.")) from None
    form = df.CalibrationForm(request.POST or None, project=project)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                mrv_sources.record_calibration(actor=user, source=source, document=data["document"],
                                               valid_from=data["valid_from"], valid_until=data["valid_until"])
            except RegistryError as exc:
                df.show_refusal(form, exc)
            else:
                messages.success(request, _("Calibration recorded for %(source)s.") % {"source": source.identifier})
                return redirect("workspace:project-data", project_id=project.project_id)
        status = 400
    return render(request, "workspace/mrv_calibration_form.html", {
        "project": project, "source": source, "form": form,
        "calibrations": source.calibrations.select_related("document").order_by("valid_from"),
    }, status=status)
