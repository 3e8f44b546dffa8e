"""The registry map: every public project's sites over the country, each a
link to its page, on the home page and the dashboard (narrowed there by the
dashboard's sector and region)."""

from __future__ import annotations

from django.conf import settings
from django.urls import reverse
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from tonne.portal import svg
from tonne.portal.dashboard import DashboardFilter, project_scope
from tonne.portal.selectors import cached, public_projects
from tonne.projects.models import Location

SITE_LIMIT = 2000  # projects drawn; the page says when there are more


def _sites(wanted: DashboardFilter) -> tuple[list[svg.Site], int]:
    projects = public_projects().filter(project_scope(wanted, "id")).exclude(locations__gis="").distinct()
    total = projects.count()
    chosen = {pid: (code, name) for pid, code, name in
              projects.order_by("-number").values_list("id", "project_id", "name")[:SITE_LIMIT]}
    shapes: dict[int, list[svg.Shape]] = {}
    for pid, gis in Location.objects.filter(project_id__in=chosen).exclude(gis="").values_list("project_id", "gis"):
        shapes.setdefault(pid, []).extend(svg.parse_gis(gis))
    sites = [
        svg.Site(found, reverse("portal:project", args=[chosen[pid][0]]), " ".join(chosen[pid]))
        for pid, found in sorted(shapes.items()) if found
    ]
    return sites, total


def registry_map(wanted: DashboardFilter | None = None) -> dict[str, object]:
    """The map's SVG and how many projects it draws of how many have a location."""
    wanted = wanted or DashboardFilter()
    sites, total = cached("registry-map", [SITE_LIMIT, *wanted.key()], lambda: _sites(wanted))
    drawing: SafeString = svg.registry_map(
        "registry-map",
        _("Map of the registry's projects"),
        _("%(n)s projects drawn where they declared their sites; each links to its page.") % {"n": len(sites)},
        sites,
        host=settings.TONNE_COUNTRY,
    )
    return {"svg": drawing, "drawn": len(sites), "total": total, "limited": total > len(sites)}
