"""Forms of the signed-in pages. They check only the shape of the input
(a date is a date, a number a number); every registry rule is the services'
to apply, and their refusals are shown beside the field they name."""

from __future__ import annotations

import uuid
from typing import Any, cast

from django import forms
from django.utils.translation import gettext_lazy as _

from tonne.core import iso3166, refusals
from tonne.core.errors import RegistryError
from tonne.methodologies import selectors as methodology_catalogue
from tonne.organisations.models import Organisation, User
from tonne.projects import domain, picklist_labels, picklists, reference
from tonne.projects.models import Document, Project, ReferenceValue
from tonne.units import selectors as unit_selectors
from tonne.units.domain import SerialRange, parse_lookup

# Labels of the project fields (CAD Trust v2.0.2 names in brackets where they differ).
FIELD_LABELS: dict[str, Any] = {
    "name": _("Project name"),
    "registry_name": _("Registry name"),
    "crediting_program": _("Crediting programme"),
    "link": _("Project link"),
    "description": _("Description"),
    "sectors": _("Sectors"),
    "types": _("Project types"),
    "subtype": _("Subtype"),
    "unit_metric": _("Unit metric"),
    "unit_type": _("Unit type"),
    "reference_project_id": _("Reference project ID"),
    "host_party": _("Host Party"),
    "sectoral_scope": _("CDM sectoral scope (1–15)"),
    "ndc_coverage": _("NDC coverage"),
    "article6_status": _("Article 6 status"),
    "unit_class": _("Unit class (code used in serial numbers)"),
    "non_permanence_risk": _("Non-permanence risk"),
    "buffer_basis_points": _("Buffer share (basis points, 100 = 1 %)"),
    "crediting_period_start": _("Crediting period start"),
    "crediting_period_end": _("Crediting period end"),
    "benefit_sharing_plan": _("Benefit-sharing plan"),
    "consent_evidence": _("Consent evidence (safeguards)"),
    "grievance_contact": _("Grievance contact"),
}
CHILD_LABELS: dict[str, Any] = {
    "locations": _("Locations"),
    "estimations": _("Estimations"),
    "ratings": _("Ratings"),
    "co_benefits": _("Co-benefits"),
    "labels": _("Labels"),
    "stakeholders": _("Stakeholders"),
    "related_projects": _("Related projects"),
    "methodologies": _("Methodologies"),
}
CHILD_FIELD_LABELS: dict[str, Any] = {
    "country": _("Country"),
    "region": _("Region"),
    "gis": _("Coordinates or GeoJSON"),
    "map_type": _("Map type"),
    "map_file_link": _("Map file link"),
    "start_date": _("Start date"),
    "end_date": _("End date"),
    "unit_count": _("Estimated units"),
    "reference_no": _("Reference number"),
    "type": _("Type"),
    "name": _("Name"),
    "value": _("Value"),
    "link": _("Link"),
    "co_benefit": _("Co-benefit"),
    "date": _("Date"),
    "related_project_id": _("Related project ID"),
    "relationship": _("Relationship"),
    "registry": _("Registry"),
    "code": _("Methodology code"),
    "description": _("Description"),
}
CHOICE_LABELS: dict[str, Any] = {
    "inside": _("Inside NDC"),
    "outside": _("Outside NDC"),
    "unknown": _("Unknown"),
    "not_requested": _("Not requested"),
    "requested": _("Authorisation requested"),
    "authorised": _("Authorised"),
    "refused": _("Refused"),
    "none": _("Not applicable"),
    "low": _("Low"),
    "medium": _("Medium"),
    "high": _("High"),
}
# The reader's names of the other fields the services name in their refusals.
OTHER_LABELS: dict[str, Any] = {
    "quantity": _("Quantity"),
    "reason": _("Reason"),
    "period_start": _("Monitoring period start"),
    "period_end": _("Monitoring period end"),
    "vintages": _("Vintages"),
    "ranges": _("Serial ranges"),
    "beneficiary": _("Beneficiary"),
    "purpose": _("Purpose"),
    "status": _("Status"),
    "kind": _("Kind"),
    "file": _("File"),
    "vvb": _("Validation / verification body"),
}
# The project form in sections, so it reads as a short series of questions.
PROJECT_SECTIONS: tuple[tuple[Any, tuple[str, ...]], ...] = (
    (_("The project"), ("name", "description", "link", "registry_name", "crediting_program", "reference_project_id")),
    (_("Sectors and types"), ("sectors", "types", "subtype", "sectoral_scope")),
    (_("Country and Article 6"), ("host_party", "ndc_coverage", "article6_status")),
    (_("Units"), ("unit_class", "unit_metric", "unit_type", "non_permanence_risk", "buffer_basis_points")),
    (_("Crediting period"), ("crediting_period_start", "crediting_period_end")),
    (_("Communities and safeguards"), ("benefit_sharing_plan", "consent_evidence", "grievance_contact")),
    (_("Validation"), ("vvb",)),
)
LONG_TEXT = {"description", "benefit_sharing_plan", "consent_evidence", "gis"}
BLANK = [("", "—")]


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs, format="%Y-%m-%d")


class PicklistChoiceField(forms.ChoiceField):
    """A CAD Trust picklist shown by the reader's names; values spelt another
    way for the same thing (Swaziland for Eswatini) stay valid, unlisted."""

    def __init__(self, *, aliases: frozenset[str] = frozenset(), **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.aliases = aliases

    def valid_value(self, value: Any) -> bool:
        return value in self.aliases or super().valid_value(value)


class _Listed:
    """A field offering what a registry list holds today. A value it does not
    offer (retired, superseded, unknown) passes the form: the service decides,
    keeping it on a project that holds it and refusing it, with its code, for
    what is new."""

    def valid_value(self, value: Any) -> bool:
        return True


class ListedChoiceField(_Listed, forms.TypedChoiceField):
    pass


class ListedMultipleChoiceField(_Listed, forms.MultipleChoiceField):
    pass


REGISTRY_LISTS = frozenset(ReferenceValue.List.values)


def _field(spec: domain.FieldSpec, label: Any, *, required: bool) -> forms.Field:
    if spec.picklist:
        if spec.picklist in picklists.COUNTRY_PICKLISTS:
            options = picklists.country_options(spec.picklist)
            aliases = frozenset(picklists.allowed(spec.picklist)) - {value for value, _name in options}
            return PicklistChoiceField(label=label, choices=BLANK + options, required=required, aliases=aliases)
        # The registry's lists (CAD Trust's values, its own, less those retired) where it keeps one.
        values = (reference.choices(spec.picklist) if spec.picklist in REGISTRY_LISTS
                  else picklists.allowed(spec.picklist))
        choices = [(v, picklist_labels.label(v)) for v in values]
        if spec.picklist in REGISTRY_LISTS:
            if spec.many:
                return ListedMultipleChoiceField(label=label, choices=choices, required=required,
                                                 widget=forms.CheckboxSelectMultiple)
            return ListedChoiceField(label=label, choices=BLANK + choices, required=required)
        if spec.many:
            return forms.MultipleChoiceField(
                label=label, choices=choices, required=required, widget=forms.CheckboxSelectMultiple
            )
        return forms.ChoiceField(label=label, choices=BLANK + choices, required=required)
    if spec.kind == "party":
        return forms.ChoiceField(label=label, choices=BLANK + iso3166.country_choices(), required=required)
    if spec.name in REGISTRY_LISTS:  # sectoral scopes and unit classes
        return ListedChoiceField(label=label, required=required, coerce=int if spec.kind == "int" else str,
                                 choices=BLANK + [(v, v) for v in reference.choices(spec.name)])
    if spec.name in domain.CHOICES:
        return forms.ChoiceField(
            label=label,
            choices=[(v, CHOICE_LABELS.get(v, v)) for v in domain.CHOICES[spec.name]],
            required=required,
        )
    if spec.kind == "int":
        return forms.IntegerField(label=label, required=required, min_value=0)
    if spec.kind == "date":
        return forms.DateField(label=label, required=required, widget=DateInput())
    if spec.kind == "url":
        return forms.CharField(label=label, required=required, widget=forms.URLInput())
    if spec.name in LONG_TEXT:
        return forms.CharField(label=label, required=required, widget=forms.Textarea(attrs={"rows": 3}))
    return forms.CharField(label=label, required=required)


class ProjectForm(forms.Form):
    """Every project field of CAD Trust v2.0.2 and the national fields."""

    required_css_class = "required"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for spec in domain.PROJECT_FIELDS:
            self.fields[spec.name] = _field(spec, FIELD_LABELS[spec.name], required=spec.required)
            field = self.fields[spec.name]
            if (spec.picklist or spec.name) in REGISTRY_LISTS and isinstance(field, forms.ChoiceField):
                # A value the project already holds stays offered, retired or not.
                held = self.initial.get(spec.name)
                offered = cast(list[tuple[Any, Any]], field.choices)
                listed = {str(v) for v, _label in offered}
                extra = [str(v) for v in (held if isinstance(held, list) else [held]) if v not in (None, "")]
                field.choices = offered + [(v, picklist_labels.label(v)) for v in extra if v not in listed]
        vvbs = Organisation.objects.filter(
            kind=Organisation.Kind.VVB, status=Organisation.Status.APPROVED, accredited=True
        ).order_by("name")
        self.fields["vvb"] = forms.ChoiceField(
            label=_("Validation / verification body"),
            choices=BLANK + [(str(o.uid), o.name) for o in vvbs],
            required=False,
        )

    def sections(self) -> list[tuple[Any, list[forms.BoundField]]]:
        return [(legend, [self[name] for name in names if name in self.fields]) for legend, names in PROJECT_SECTIONS]

    def service_data(self) -> tuple[dict[str, Any], str | None]:
        data = {}
        for spec in domain.PROJECT_FIELDS:
            value = self.cleaned_data.get(spec.name)
            if value in (None, "", []):
                continue
            data[spec.name] = value
        return data, self.cleaned_data.get("vvb") or None


class ChildForm(forms.Form):
    """One row of a child record; a row left blank is ignored."""

    child = ""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for spec in domain.CHILD_FIELDS[self.child]:
            # Required-ness is checked by the service, which names the row.
            self.fields[spec.name] = _field(spec, CHILD_FIELD_LABELS[spec.name], required=False)
        if self.child == "methodologies":

            # Offered: those accepted today, and the one the project already follows.
            offered = methodology_choices()
            held = self.initial.get("code")
            if held and held not in {code for code, _label in offered}:
                offered.append((held, held))
            self.fields["code"] = ListedChoiceField(label=CHILD_FIELD_LABELS["code"], choices=BLANK + offered,
                                                    required=False)

    def row(self) -> dict[str, Any] | None:
        row = {k: v for k, v in self.cleaned_data.items() if v not in (None, "", [])}
        return row or None


def methodology_choices() -> list[tuple[str, str]]:
    """The methodologies the registry accepts for new projects today, each
    with its version in force, those the registry computes marked."""
    computed = {(m.code, m.version) for m in methodology_catalogue.every()}
    return [
        (m.code, f"{m.code} v{version} {m.name}"
         + (f" ({_('computed by the registry')})" if (m.code, version) in computed else ""))
        for m, version in reference.accepted_methodologies()
    ]


def child_formset(child: str, extra: int) -> type[forms.BaseFormSet]:
    form = type(f"{child.title().replace('_', '')}Form", (ChildForm,), {"child": child})
    return forms.formset_factory(form, extra=extra, max_num=200)


def child_initial(project: Project, child: str) -> list[dict[str, Any]]:
    if child == "methodologies":
        return [
            {"code": pm.methodology.code, "date": pm.date, "description": pm.description}
            for pm in project.methodologies.select_related("methodology").order_by("created_at", "id")
        ]
    names = [s.name for s in domain.CHILD_FIELDS[child]]
    return [{n: getattr(row, n) for n in names} for row in getattr(project, child).order_by("created_at", "id")]


def project_initial(project: Project) -> dict[str, Any]:
    initial = {spec.name: getattr(project, spec.name) for spec in domain.PROJECT_FIELDS}
    initial["vvb"] = str(project.vvb.uid) if project.vvb else ""
    return initial


class AssignmentForm(forms.Form):
    no_conflict_of_interest = forms.BooleanField(
        label=_("We declare no conflict of interest with this project, its developer or its monitoring."),
        required=False,
    )
    reason = forms.CharField(label=_("Reason for declining"), required=False, widget=forms.Textarea(attrs={"rows": 2}),
                             help_text=_("Required to decline."))


class DecisionForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Recorded with the decision in the ledger; required to reject."),
    )


class OrganisationApplicationForm(forms.Form):
    name = forms.CharField(label=_("Organisation name"), max_length=200)
    kind = forms.ChoiceField(
        label=_("Kind of organisation"),
        choices=[
            ("developer", _("Project developer")),
            ("vvb", _("Validation / verification body")),
            ("trader", _("Buyer, trader or exchange")),
            ("ministry", _("Sectoral ministry")),
            ("observer", _("Observer")),
        ],
    )
    country = forms.CharField(label=_("Country (ISO 3166-1 alpha-2 code)"), max_length=2, min_length=2)
    registration_number = forms.CharField(label=_("Registration number"), required=False, max_length=100)
    address = forms.CharField(label=_("Address"), required=False, widget=forms.Textarea(attrs={"rows": 2}))
    contact_email = forms.EmailField(label=_("Contact e-mail"), required=False)
    website = forms.URLField(label=_("Website"), required=False, assume_scheme="https")


class OrganisationStatusForm(forms.Form):
    status = forms.ChoiceField(
        label=_("New status"),
        choices=[
            ("approved", _("approved")),
            ("rejected", _("rejected")),
            ("suspended", _("suspended")),
            ("closed", _("closed")),
        ],
    )
    reason = forms.CharField(label=_("Reason"), widget=forms.Textarea(attrs={"rows": 2}), required=False)


class AccreditationForm(forms.Form):
    accredited = forms.BooleanField(label=_("Accredited to validate and verify"), required=False)


class ActsForClientsForm(forms.Form):
    acts_for_clients = forms.BooleanField(label=_("Retires units on behalf of its clients"), required=False)


class UserForm(forms.Form):
    username = forms.CharField(label=_("Username"), max_length=150)
    email = forms.EmailField(label=_("E-mail"))
    password = forms.CharField(
        label=_("Initial password"),
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=_("At least 12 characters."),
    )
    role = forms.ChoiceField(
        label=_("Role"),
        choices=[
            (User.Role.ADMIN, _("Administrator of the organisation")),
            (User.Role.INITIATOR, _("Initiator")),
            (User.Role.APPROVER, _("Approver")),
            (User.Role.VIEWER, _("Viewer")),
        ],
    )


class MemberForm(forms.Form):
    """Change a person's role, or deactivate them."""

    username = forms.CharField(label=_("User"), max_length=150)
    role = forms.ChoiceField(label=_("New role"), choices=UserForm.base_fields["role"].choices)  # type: ignore[attr-defined]
    is_active = forms.BooleanField(label=_("Active (may sign in)"), required=False, initial=True)


class AccountStatusForm(forms.Form):
    status = forms.ChoiceField(
        label=_("New status"), choices=[("open", _("open")), ("suspended", _("suspended")), ("closed", _("closed"))]
    )
    reason = forms.CharField(label=_("Reason"), widget=forms.Textarea(attrs={"rows": 2}), required=False)


class AccountForm(forms.Form):
    name = forms.CharField(label=_("Account name"), max_length=200, required=False)


class DocumentForm(forms.Form):
    file = forms.FileField(label=_("File"))
    kind = forms.ChoiceField(
        label=_("Kind of document"),
        choices=[
            (Document.Kind.DESIGN, _("Project design document")),
            (Document.Kind.VALIDATION_REPORT, _("Validation report")),
            (Document.Kind.MONITORING_REPORT, _("Monitoring report")),
            (Document.Kind.VERIFICATION_REPORT, _("Verification report")),
            (Document.Kind.LETTER, _("Letter")),
            (Document.Kind.OTHER, _("Other")),
        ],
    )
    title = forms.CharField(label=_("Title"), required=False)  # too long: refused by the registry, not cut
    is_public = forms.BooleanField(label=_("Public (shown on the public project page)"), required=False, initial=True)


class ValidationForm(forms.Form):
    type = forms.ChoiceField(
        label=_("Kind of validation"),
        choices=[(v, v) for v in picklists.allowed("validation_type")],
        initial="Validation of Project Design Document",
    )
    report_file = forms.FileField(label=_("Validation report (file)"), required=False)
    crediting_period_start = forms.DateField(label=_("Crediting period start"), required=False, widget=DateInput())
    crediting_period_end = forms.DateField(label=_("Crediting period end"), required=False, widget=DateInput())


class ReportForm(forms.Form):
    period_start = forms.DateField(label=_("Monitoring period start"), widget=DateInput())
    period_end = forms.DateField(label=_("Monitoring period end"), widget=DateInput())
    vvb = forms.ChoiceField(label=_("Verification body"), choices=())
    document = forms.FileField(label=_("Monitoring report (file)"), required=False)
    reason = forms.CharField(
        label=_("What is corrected, and why"), required=False, widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Kept with the correction in the ledger."),
    )

    def __init__(self, *args: Any, correcting: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if correcting:
            self.fields["document"].help_text = _("Leave empty to keep the file already sent.")
        else:
            del self.fields["reason"]
        vvbs = Organisation.objects.filter(
            kind=Organisation.Kind.VVB, status=Organisation.Status.APPROVED, accredited=True
        ).order_by("name")
        cast(forms.ChoiceField, self.fields["vvb"]).choices = BLANK + [(str(o.uid), o.name) for o in vvbs]


class AmendForm(forms.Form):
    """The fields of a submitted project its developer may still correct."""

    link = forms.URLField(label=_("Project link"), required=False, max_length=500, assume_scheme="https")
    description = forms.CharField(label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 4}))
    grievance_contact = forms.CharField(label=_("Grievance contact"), required=False, max_length=300)
    benefit_sharing_plan = forms.CharField(
        label=_("Benefit-sharing plan"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    consent_evidence = forms.CharField(label=_("Consent evidence (safeguards)"), required=False, widget=forms.Textarea(attrs={"rows": 3}))
    change_reason = forms.CharField(
        label=_("What is corrected, and why"), required=False, widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Kept in the project's change log. Fields accounting relies on (party, scope, unit class, "
                    "buffer, crediting period, estimates, methodologies) cannot change after submission."),
    )

    def changed_data_for(self, project: Any) -> dict[str, str]:
        """The amendable fields whose value differs from the project's."""
        names = [n for n in self.fields if n != "change_reason"]
        return {n: self.cleaned_data[n] or "" for n in names if (self.cleaned_data[n] or "") != (getattr(project, n) or "")}


class InstructionLineForm(forms.Form):
    """One line of the developer's issuance instruction: to one of its accounts, or retired at issuance."""

    vintage = forms.TypedChoiceField(label=_("Vintage"), coerce=int, choices=())
    destination = forms.ChoiceField(label=_("Goes to"), choices=())
    quantity = forms.IntegerField(label=_("Units"), min_value=1)
    beneficiary = forms.CharField(label=_("Beneficiary (when retired)"), required=False)
    purpose = forms.ChoiceField(
        label=_("Purpose (when retired)"), required=False,
        choices=[("corsia", _("CORSIA")), ("voluntary", _("Voluntary")), ("ndc", _("NDC")),
                 ("other_compliance", _("Other compliance")), ("other", _("Other"))],
    )
    compliance_period = forms.CharField(label=_("Compliance period or reporting year (optional)"), required=False)
    using_entity = forms.CharField(label=_("Entity using the units (optional)"), required=False)

    def __init__(self, *args: Any, vintages: list[int], accounts: list[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.TypedChoiceField, self.fields["vintage"]).choices = [(v, str(v)) for v in vintages]
        cast(forms.ChoiceField, self.fields["destination"]).choices = [
            ("retire", _("Retired at issuance")), *[(a.identifier, f"{a.identifier} {a.name}") for a in accounts]
        ]

    def line(self) -> dict[str, Any]:
        data = self.cleaned_data
        if data["destination"] != "retire":
            return {"vintage": data["vintage"], "account": data["destination"], "quantity": data["quantity"]}
        retire = {k: data[k] for k in ("beneficiary", "purpose", "compliance_period", "using_entity") if data[k]}
        return {"vintage": data["vintage"], "retire": retire, "quantity": data["quantity"]}


class RemoveDocumentForm(forms.Form):
    # Checked by the service (required, bounded), so its refusal names the rule.
    reason = forms.CharField(label=_("Why remove it"), required=False, widget=forms.Textarea(attrs={"rows": 2}))


class VintageForm(forms.Form):
    vintage = forms.IntegerField(label=_("Vintage (year)"), required=False, min_value=1900, max_value=2200)
    quantity = forms.IntegerField(label=_("Claimed units"), required=False, min_value=1)


VintageFormSet = forms.formset_factory(VintageForm, extra=2, max_num=50)


class VerifyForm(forms.Form):
    verification_id = forms.CharField(label=_("Verification ID (optional)"), required=False)
    document = forms.FileField(label=_("Verification report (file)"), required=False)
    comments = forms.CharField(label=_("Comments on your positive opinion (optional)"), required=False,
                               widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args: Any, vintages: list[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.vintage_fields = []
        for row in vintages:
            name = f"verified_{row.vintage}"
            self.fields[name] = forms.IntegerField(
                label=_("Verified units, vintage %(vintage)s") % {"vintage": row.vintage},
                min_value=0,
                initial=row.claimed,
            )
            self.vintage_fields.append(name)
        self.order_fields([*self.vintage_fields, "verification_id", "document", "comments"])

    def verified(self) -> list[dict[str, int]]:
        return [{"vintage": int(n.split("_")[1]), "quantity": self.cleaned_data[n]} for n in self.vintage_fields if self.cleaned_data[n]]


def new_idempotency_key() -> str:
    return str(uuid.uuid4())


class MoveForm(forms.Form):
    """Which units to move: a quantity chosen by the registry's selection rule
    (oldest first, optionally of one project and vintage), or serial ranges."""

    from_account = forms.ChoiceField(label=_("From account"), choices=())
    quantity = forms.IntegerField(label=_("Number of units"), required=False, min_value=1)
    project = forms.ChoiceField(label=_("Only units of project"), required=False, choices=())
    vintage = forms.IntegerField(label=_("Only units of vintage"), required=False, min_value=1900, max_value=2200)
    ranges = forms.CharField(
        label=_("Or these serial ranges (one per line)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("A serial string, or first–last serial numbers, e.g. 1001-1500."),
    )
    idempotency_key = forms.CharField(widget=forms.HiddenInput())

    def __init__(self, *args: Any, accounts: list[Any], projects: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["from_account"]).choices = [(a.identifier, f"{a.identifier} {a.name}") for a in accounts]
        cast(forms.ChoiceField, self.fields["project"]).choices = [("", _("Any project")), *projects]

    def parsed_ranges(self) -> list[SerialRange]:
        out = []
        for line in (self.cleaned_data.get("ranges") or "").splitlines():
            if line.strip():
                prefix, serials = parse_lookup(line)
                if prefix is not None:  # a full serial string: its prefix must be the units' own, as in the public lookup
                    unit_selectors.lookup_serials(None, line, require_match=False)
                out.append(serials)
        return out

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        try:
            self.parsed_ranges()
        except RegistryError as exc:
            self.add_error("ranges", f"{refusals.text(exc, label=str(self.fields['ranges'].label))} ({exc.code})")
        return cleaned


class TransferForm(MoveForm):
    to_account = forms.CharField(
        label=_("To account number"), max_length=20, help_text=_("e.g. CI-100-1000004-16; check digits are verified.")
    )
    field_order = ["from_account", "to_account", "quantity", "project", "vintage", "ranges"]


class RetireForm(MoveForm):
    # No max_length here: a browser would cut a pasted text to it without a
    # word; the registry refuses an over-long one (TEXT_TOO_LONG) instead.
    beneficiary = forms.CharField(label=_("Beneficiary"))
    purpose = forms.ChoiceField(
        label=_("Purpose"),
        choices=[
            ("voluntary", _("Voluntary")),
            ("ndc", _("NDC")),
            ("corsia", _("CORSIA")),
            ("other_compliance", _("Other compliance")),
            ("other", _("Other")),
        ],
    )
    jurisdiction = forms.CharField(
        label=_("Jurisdiction (optional)"),
        required=False,
        help_text=_("An ISO 3166 code: a country (FR) or one of its subdivisions (US-CA)."),
    )
    reason = forms.CharField(label=_("Statement (optional)"), required=False, widget=forms.Textarea(attrs={"rows": 2}))
    compliance_period = forms.CharField(
        label=_("Compliance period or reporting year (optional)"), required=False,
        help_text=_("A year (2025) or a period of years (2024-2026)."),
    )
    using_entity = forms.CharField(
        label=_("Entity using the units (optional)"), required=False,
        help_text=_("For compliance use: the company or operator that counts these units (e.g. an airline under CORSIA)."),
    )
    on_behalf_of = forms.CharField(
        label=_("Retired on behalf of (optional)"), required=False,
        help_text=_("An exchange or broker names the client it retires for."),
    )

    def use_details(self) -> dict[str, str]:
        return {name: self.cleaned_data.get(name, "") for name in ("compliance_period", "using_entity", "on_behalf_of")}


class TransferRetireForm(RetireForm):
    """Transfer and retire: an exchange's units, retired in its client's account (units.onward)."""

    to_account = forms.CharField(label=_("Client's account number"), max_length=20,
                                 help_text=_("The units move to this account and are retired there, for the beneficiary."))
    field_order = ["from_account", "to_account", "quantity", "project", "vintage", "ranges"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        del self.fields["on_behalf_of"]  # the client is the holder of that account


class TrustedAccountForm(forms.Form):
    trusted = forms.CharField(label=_("Account number to trust"), max_length=40)


class LimitsForm(forms.Form):
    per_transfer = forms.IntegerField(
        label=_("Most units one transfer may move"), min_value=1, max_value=2**62, required=False,
        help_text=_("Leave empty for no limit of the account's own."),
    )
    per_day = forms.IntegerField(
        label=_("Most units that may leave in 24 hours"), min_value=1, max_value=2**62, required=False,
        help_text=_("Leave empty for no limit of the account's own."),
    )
