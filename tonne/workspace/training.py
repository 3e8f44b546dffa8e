"""The guided first journey of a training sandbox: for each role the person
holds, the next thing to do and why, read from where their work stands.

Shown on the workspace home only when the installation is a sandbox
(`tonne.core.training`). Each step points at the page where the work is
done; nothing here acts."""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import reverse
from django.utils.translation import gettext as _

from tonne.mrv import selectors as mrv_selectors
from tonne.mrv.models import MonitoringReport
from tonne.organisations import selectors as org_selectors
from tonne.organisations.models import Account, User
from tonne.projects import selectors as project_selectors
from tonne.projects.models import Project
from tonne.units.models import UnitBlock
from tonne.workspace.views.common import ADMIN, DEVELOPER, HOLDER, VVB


@dataclass(frozen=True)
class Step:
    role: str  # the role's name, as the person reads it
    what: str
    why: str
    url: str
    action: str


def _admin(user: User) -> Step:
    projects = project_selectors.projects_for(user)
    waiting = projects.filter(status__in=(Project.Status.SUBMITTED, Project.Status.VALIDATED)).first()
    if waiting is not None:
        return Step(_("Registry administrator"),
                    _("Decide on project %(id)s, %(name)s.") % {"id": waiting.project_id, "name": waiting.name},
                    _("A project counts only once the registry accepts it: you check the application before a VVB "
                      "validates it, and register it after."),
                    reverse("workspace:project", args=[waiting.project_id]), _("Open the project"))
    verified = mrv_selectors.reports_for(user).filter(status=MonitoringReport.Status.VERIFIED).first()
    if verified is not None:
        return Step(_("Registry administrator"),
                    _("Decide on the issuance of monitoring report %(n)s of %(id)s.")
                    % {"n": verified.number, "id": verified.project.project_id},
                    _("Units exist only when the registry issues them, never more than the VVB verified; each "
                      "gets a serial number and a ledger entry."),
                    reverse("workspace:report", args=[verified.uid]), _("Open the report"))
    return Step(_("Registry administrator"), _("Look at the whole registry."),
                _("Nothing awaits you. The overview shows every account and what it holds, so you can answer "
                  "a minister's question in a minute."),
                reverse("workspace:overview"), _("Open the overview"))


def _developer(user: User) -> Step:
    mine = project_selectors.projects_for(user).filter(developer=user.organisation)
    if not mine.exists():
        return Step(_("Project developer"), _("Register your first project."),
                    _("Everything starts with a project: what it does, where, under which methodology and how "
                      "many tonnes it expects a year."),
                    reverse("workspace:project-new"), _("Register a project"))
    registered = mine.filter(status=Project.Status.REGISTERED)
    draft = mine.filter(status=Project.Status.DRAFT).first()
    if not registered.exists():
        if draft is not None:
            return Step(_("Project developer"), _("Submit project %(id)s for the registry's review.")
                        % {"id": draft.project_id},
                        _("A draft is yours alone; submitting it sends it to the registry and then to your VVB."),
                        reverse("workspace:project", args=[draft.project_id]), _("Open the project"))
        return Step(_("Project developer"), _("Wait for the registry and the VVB."),
                    _("Your project is under review; the registry administrator and the VVB act next."),
                    reverse("workspace:projects"), _("See my projects"))
    reported = mrv_selectors.reports_for(user).filter(project__in=registered)
    if not reported.exists():
        first = registered.first()
        assert first is not None
        return Step(_("Project developer"), _("Submit a monitoring report for %(id)s.") % {"id": first.project_id},
                    _("Units are issued for verified mitigation: a monitoring report states what the project "
                      "achieved over a period, and a VVB checks it."),
                    reverse("workspace:report-new", args=[first.project_id]), _("Submit a report"))
    return _holder(user, _("Project developer"))


def _vvb(user: User) -> Step:
    projects = project_selectors.projects_for(user).filter(vvb_id=user.organisation_id, status=Project.Status.APPROVED)
    reports = mrv_selectors.reports_for(user).filter(vvb_id=user.organisation_id,
                                                     status=MonitoringReport.Status.SUBMITTED)
    if projects.exists() or reports.exists():
        return Step(_("Verification body"), _("Validate or verify what was assigned to you."),
                    _("You are the independent check: a project is registered and units issued only on your "
                      "opinion, and you may adjust the quantity with a reason."),
                    reverse("workspace:assignments"), _("My assignments"))
    return Step(_("Verification body"), _("Nothing is assigned to you yet."),
                _("Developers name their VVB when they register a project or submit a report."),
                reverse("workspace:assignments"), _("My assignments"))


def _holder(user: User, role: str) -> Step:
    accounts = org_selectors.accounts_for(user).filter(type=Account.Type.HOLDING)
    account = accounts.first()
    if account is None:
        return Step(role, _("Ask the registry for a holding account."),
                    _("Units are held in accounts; your organisation's account is opened by the registry."),
                    reverse("workspace:my-organisation"), _("My organisation"))
    if not UnitBlock.objects.filter(account__in=accounts).exists():
        return Step(role, _("Receive units in account %(id)s.") % {"id": account.identifier},
                    _("A seller transfers units to your account number; give it to them. Nothing is bought "
                      "or paid here: the registry records who holds which units."),
                    reverse("workspace:account", args=[account.identifier]), _("Open the account"))
    return Step(role, _("Retire units for a beneficiary."),
                _("Retiring is what makes a tonne count for someone's claim: the units leave for good, and "
                  "the certificate names who benefits, anyone can check it."),
                reverse("workspace:retire"), _("Retire units"))


def next_steps(user: User, roles: list[str] | set[str]) -> list[Step]:
    """One step per role the person holds, in the order of the registry's own work."""
    steps = []
    if ADMIN in roles:
        steps.append(_admin(user))
    if DEVELOPER in roles:
        steps.append(_developer(user))
    if VVB in roles:
        steps.append(_vvb(user))
    if HOLDER in roles and DEVELOPER not in roles:
        steps.append(_holder(user, _("Buyer or trader")))
    return steps
