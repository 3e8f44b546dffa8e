"""The forms behind a project's data sources and its benefit sharing: they
check what a person can get wrong while typing (a missing field, a key that is
not 64 hexadecimal digits, a date in the wrong order) in their own words; the
services decide everything else, and their refusals are worded by `refusal`."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.core.validators import RegexValidator
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from tonne.core import refusals
from tonne.core.errors import RegistryError
from tonne.methodologies import selectors as catalogue
from tonne.mrv.models import DataSource
from tonne.projects.models import BenefitShare, Document, Grievance, Project

KIND_LABELS = {
    DataSource.Kind.METER: gettext_lazy("Meter"),
    DataSource.Kind.STOVE_SENSOR: gettext_lazy("Stove sensor"),
    DataSource.Kind.DATA_LOGGER: gettext_lazy("Data logger"),
    DataSource.Kind.REMOTE_SENSING: gettext_lazy("Remote-sensing product"),
    DataSource.Kind.LABORATORY: gettext_lazy("Laboratory"),
    DataSource.Kind.MANUAL: gettext_lazy("Manual entry (operator's key)"),
}


def measurement_choices() -> list[tuple[str, str]]:
    """The measurement kinds the registry's methodologies read, each once."""
    seen: dict[str, str] = {}
    for m in catalogue.every():
        for spec in m.inputs:
            seen.setdefault(spec.kind, f"{spec.kind} ({spec.unit}) — {m.code}")
    return sorted(seen.items())


def document_choices(project: Project) -> list[tuple[str, str]]:
    docs = Document.objects.filter(project=project, removed_at__isnull=True).order_by("-uploaded_at")[:200]
    return [("", _("Choose a document uploaded to the project"))] + [
        (str(d.uid), f"{d.title} ({d.sha256[:12]}…)") for d in docs
    ]


class SourceForm(forms.Form):
    identifier = forms.CharField(
        label=gettext_lazy("Device identifier"), max_length=100,
        help_text=gettext_lazy("As printed on the device, e.g. METER-A-01."),
        validators=[RegexValidator(r"^[A-Za-z0-9][A-Za-z0-9._:/-]*$", gettext_lazy(
            "Use letters, digits and . _ : / - only, starting with a letter or a digit."))],
    )
    kind = forms.ChoiceField(label=gettext_lazy("Kind of source"), choices=list(KIND_LABELS.items()))
    measurement = forms.ChoiceField(label=gettext_lazy("What it measures"), choices=())
    unit = forms.CharField(label=gettext_lazy("Unit of its readings"), max_length=20,
                           help_text=gettext_lazy("The unit the methodology reads, e.g. MWh, t or ha."))
    location = forms.CharField(label=gettext_lazy("Location"), max_length=300, required=False)
    public_key = forms.CharField(
        label=gettext_lazy("Ed25519 public key"), max_length=64, min_length=64,
        help_text=gettext_lazy("The device's public key (or, for manual entry, the operator's) "
                               "in hexadecimal: 64 characters."),
        validators=[RegexValidator(r"^[0-9a-fA-F]{64}$", gettext_lazy(
            "A public key is 64 hexadecimal characters (0-9, a-f)."))],
        error_messages={"min_length": gettext_lazy("A public key is 64 hexadecimal characters (0-9, a-f).")},
    )
    min_value = forms.DecimalField(label=gettext_lazy("Lowest plausible reading"), required=False, max_digits=30,
                                   decimal_places=6)
    max_value = forms.DecimalField(label=gettext_lazy("Highest plausible reading"), required=False, max_digits=30,
                                   decimal_places=6)
    max_change_per_hour = forms.DecimalField(label=gettext_lazy("Largest plausible change per hour"), required=False,
                                             max_digits=30, decimal_places=6, min_value=0)
    expected_interval_seconds = forms.IntegerField(
        label=gettext_lazy("Expected seconds between readings"), required=False, min_value=1, max_value=10**8,
        help_text=gettext_lazy("A longer silence is flagged as a gap."))
    raw_confidential = forms.BooleanField(
        label=gettext_lazy("Publish aggregates only (raw readings confidential)"), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["measurement"].choices = measurement_choices()  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        low, high = data.get("min_value"), data.get("max_value")
        if low is not None and high is not None and high < low:
            self.add_error("max_value", _("The highest plausible reading is below the lowest."))
        return data

    def as_service(self) -> dict[str, Any]:
        """What the service takes: decimals as text, the key in lower case."""
        data = dict(self.cleaned_data)
        data["public_key"] = data["public_key"].lower()
        for name in ("min_value", "max_value", "max_change_per_hour"):
            data[name] = None if data[name] is None else str(data[name])
        return data


class CalibrationForm(forms.Form):
    document = forms.ChoiceField(label=gettext_lazy("Calibration certificate"), choices=())
    valid_from = forms.DateField(label=gettext_lazy("Valid from"), widget=forms.DateInput(attrs={"type": "date"}))
    valid_until = forms.DateField(label=gettext_lazy("Valid until"), widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args: Any, project: Project, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["document"].choices = document_choices(project)  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("valid_from"), data.get("valid_until")
        if start and end and end < start:
            self.add_error("valid_until", _("The calibration cannot end before it starts."))
        return data


class ShareForm(forms.Form):
    """One row of a benefit-sharing plan; an empty row is left out."""

    beneficiary = forms.CharField(label=gettext_lazy("Beneficiary"), max_length=200, required=False)
    beneficiary_kind = forms.ChoiceField(label=gettext_lazy("Beneficiary is"), choices=[
        (BenefitShare.BeneficiaryKind.COMMUNITY, gettext_lazy("a community")),
        (BenefitShare.BeneficiaryKind.FUND, gettext_lazy("a fund")),
        (BenefitShare.BeneficiaryKind.OTHER, gettext_lazy("other")),
    ])
    basis = forms.ChoiceField(label=gettext_lazy("Share of"), choices=[
        (BenefitShare.Basis.UNITS, gettext_lazy("units issued")),
        (BenefitShare.Basis.PROCEEDS, gettext_lazy("proceeds (money)")),
    ])
    percent = forms.DecimalField(label=gettext_lazy("Share (%)"), required=False, min_value=Decimal("0.01"),
                                 max_value=Decimal(100), decimal_places=2, max_digits=5)
    frequency = forms.ChoiceField(label=gettext_lazy("How often"), choices=[
        (BenefitShare.Frequency.PER_ISSUANCE, gettext_lazy("at each issuance")),
        (BenefitShare.Frequency.QUARTERLY, gettext_lazy("every quarter")),
        (BenefitShare.Frequency.ANNUAL, gettext_lazy("every year")),
    ])
    account = forms.CharField(label=gettext_lazy("Holding account (unit shares)"), max_length=100, required=False)
    currency = forms.CharField(label=gettext_lazy("Currency (money shares)"), max_length=3, required=False)
    planned_amount = forms.DecimalField(label=gettext_lazy("Amount per period"), required=False, min_value=Decimal("0.01"),
                                        decimal_places=2, max_digits=18)
    first_due = forms.DateField(label=gettext_lazy("First due"), required=False,
                                widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not data.get("beneficiary"):
            if data.get("percent") is not None or data.get("account") or data.get("planned_amount") is not None:
                self.add_error("beneficiary", _("Name the beneficiary of this share."))
            return data
        if data.get("percent") is None and "percent" not in self.errors:
            self.add_error("percent", _("Give the share in per cent."))
        if data.get("basis") == BenefitShare.Basis.UNITS:
            if not data.get("account"):
                self.add_error("account", _("A share of units goes to the beneficiary's holding account: give its number."))
            if data.get("frequency") != BenefitShare.Frequency.PER_ISSUANCE:
                self.add_error("frequency", _("Shares of units are allocated at each issuance."))
        elif data.get("basis") == BenefitShare.Basis.PROCEEDS:
            for name, message in (("currency", _("Give the currency, e.g. USD.")),
                                  ("planned_amount", _("Give the amount planned per period.")),
                                  ("first_due", _("Give the date the first payment is due."))):
                if data.get(name) in (None, "") and name not in self.errors:
                    self.add_error(name, message)
        return data

    def as_service(self) -> dict[str, Any] | None:
        data = self.cleaned_data
        if not data.get("beneficiary"):
            return None
        row: dict[str, Any] = {
            "beneficiary": data["beneficiary"], "beneficiary_kind": data["beneficiary_kind"], "basis": data["basis"],
            "share_basis_points": int(data["percent"] * 100), "frequency": data["frequency"],
        }
        if data["basis"] == BenefitShare.Basis.UNITS:
            row["account"] = data["account"]
        else:
            row.update(currency=data["currency"].upper(), planned_amount=str(data["planned_amount"]),
                       first_due=data["first_due"].isoformat())
        return row


ShareFormSet = forms.formset_factory(ShareForm, extra=0, max_num=20, absolute_max=20)


def share_initial(shares: list[BenefitShare]) -> list[dict[str, Any]]:
    return [{
        "beneficiary": s.beneficiary, "beneficiary_kind": s.beneficiary_kind, "basis": s.basis,
        "percent": Decimal(s.share_basis_points) / 100, "frequency": s.frequency,
        "account": s.account.identifier if s.account else "", "currency": s.currency,
        "planned_amount": s.planned_amount, "first_due": s.first_due,
    } for s in shares]


class DisbursementForm(forms.Form):
    share = forms.ChoiceField(label=gettext_lazy("Share paid"), choices=())
    amount = forms.DecimalField(label=gettext_lazy("Amount"), min_value=Decimal("0.01"), decimal_places=2, max_digits=18)
    currency = forms.CharField(label=gettext_lazy("Currency"), max_length=3, min_length=3)
    paid_on = forms.DateField(label=gettext_lazy("Paid on"), widget=forms.DateInput(attrs={"type": "date"}))
    evidence = forms.ChoiceField(label=gettext_lazy("Evidence (receipt, bank statement)"), choices=())

    def __init__(self, *args: Any, project: Project, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        shares = BenefitShare.objects.filter(project=project, active=True, basis=BenefitShare.Basis.PROCEEDS)
        self.fields["share"].choices = [  # type: ignore[attr-defined]
            (str(s.uid), f"{s.beneficiary} ({s.currency} {s.planned_amount})") for s in shares.order_by("id")]
        self.fields["evidence"].choices = document_choices(project)  # type: ignore[attr-defined]


class ConsentForm(forms.Form):
    community = forms.CharField(label=gettext_lazy("Community"), max_length=200)
    obtained_on = forms.DateField(label=gettext_lazy("Consent obtained on"), widget=forms.DateInput(attrs={"type": "date"}))
    document = forms.ChoiceField(label=gettext_lazy("Evidence of free, prior and informed consent"), choices=())

    def __init__(self, *args: Any, project: Project, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["document"].choices = document_choices(project)  # type: ignore[attr-defined]


class GrievanceForm(forms.Form):
    received_on = forms.DateField(label=gettext_lazy("Received on"), widget=forms.DateInput(attrs={"type": "date"}))
    channel = forms.CharField(label=gettext_lazy("Received through"), max_length=100,
                              help_text=gettext_lazy("e.g. community meeting, telephone line, letter."))
    summary = forms.CharField(label=gettext_lazy("What the grievance says"), max_length=2000, widget=forms.Textarea)


GRIEVANCE_STATUS_LABELS: dict[str, Any] = {
    Grievance.Status.RECEIVED: gettext_lazy("received"),
    Grievance.Status.INVESTIGATING: gettext_lazy("being investigated"),
    Grievance.Status.RESOLVED: gettext_lazy("resolved"),
    Grievance.Status.DISMISSED: gettext_lazy("dismissed"),
}


class GrievanceStatusForm(forms.Form):
    status = forms.ChoiceField(label=gettext_lazy("Status"), choices=list(GRIEVANCE_STATUS_LABELS.items()))
    resolution = forms.CharField(label=gettext_lazy("Resolution"), max_length=2000, required=False,
                                 widget=forms.Textarea(attrs={"rows": 2}))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("status") in (Grievance.Status.RESOLVED, Grievance.Status.DISMISSED) and not data.get("resolution"):
            self.add_error("resolution", _("Say how the grievance was resolved or why it was dismissed."))
        return data


# -- the services' refusals, in the reader's words --------------------------------------

REFUSALS: dict[str, Any] = {
    "PROJECT_NOT_YOURS": gettext_lazy("Only the project's developer can do this."),
    "ROLE_NOT_ALLOWED": gettext_lazy("Your role in your organisation does not allow this."),
    "SOURCE_EXISTS": gettext_lazy("This project already has a data source with that identifier."),
    "PUBLIC_KEY_INVALID": gettext_lazy("A public key is 64 hexadecimal characters (0-9, a-f)."),
    "DOCUMENT_NOT_FOUND": gettext_lazy("Choose a document uploaded to this project."),
    "PERIOD_INVALID": gettext_lazy("The calibration cannot end before it starts."),
    "ACCOUNT_NOT_FOUND": gettext_lazy("No open holding account has that number."),
    "SHARES_EXCEED_WHOLE": gettext_lazy("The shares of units add up to more than 100 %."),
    "BENEFIT_SHARE_BELOW_MINIMUM": gettext_lazy(
        "Communities must receive at least %(minimum)s %% on this type of project; this plan gives them %(given)s %%."),
    "SHARE_NOT_MONETARY": gettext_lazy("Shares of units are allocated at issuance, not paid."),
    "CURRENCY_MISMATCH": gettext_lazy("This share is planned in another currency."),
    "DATE_IN_FUTURE": gettext_lazy("A payment cannot be dated in the future."),
}
FIELDS = {"share_basis_points": "percent", "shares": "__all__"}


def refusal(exc: RegistryError, **values: Any) -> str:
    """The refusal in the reader's words (the service's own for codes not
    listed here), with the stable code a support desk asks for."""
    text = REFUSALS.get(exc.code)
    if text is None:
        return f"{refusals.text(exc)} ({exc.code})"
    shown = str(text)
    if values and "%(" in shown:
        shown = shown % values
    return f"{shown} ({exc.code})"


def show_refusal(form: forms.Form, exc: RegistryError, **values: Any) -> None:
    """Beside the field the service names, or at the top of the form."""
    field = FIELDS.get(exc.field or "", exc.field)
    form.add_error(field if field in form.fields else None, refusal(exc, **values))
