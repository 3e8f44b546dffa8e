"""Words of the registry as readers see them, in their language."""

from __future__ import annotations

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from tonne.core import refusals
from tonne.core.errors import RegistryError
from tonne.projects import picklist_labels

FACET_TITLES = {
    "region": gettext_lazy("Host region"),
    "sector": gettext_lazy("Sector"),
    "type": gettext_lazy("Project type"),
    "methodology": gettext_lazy("Methodology"),
    "status": gettext_lazy("Status"),
    "crediting": gettext_lazy("Crediting period"),
    "vintage": gettext_lazy("Vintage"),
    "label": gettext_lazy("Labels"),
    "cobenefit": gettext_lazy("Co-benefits and SDGs"),
    "article6": gettext_lazy("Article 6 status"),
}

STATUSES = {
    "draft": gettext_lazy("Draft"),
    "submitted": gettext_lazy("Submitted"),
    "approved": gettext_lazy("Approved"),
    "validated": gettext_lazy("Validated"),
    "registered": gettext_lazy("Registered"),
    "completed": gettext_lazy("Completed"),
    "rejected": gettext_lazy("Rejected"),
    "withdrawn": gettext_lazy("Withdrawn"),
    "on_hold": gettext_lazy("On hold"),
}

ARTICLE6 = {
    "not_requested": gettext_lazy("Not requested"),
    "requested": gettext_lazy("Authorisation requested"),
    "authorised": gettext_lazy("Authorised"),
    "refused": gettext_lazy("Refused"),
}

CREDITING = {
    "current": gettext_lazy("Current"),
    "ended": gettext_lazy("Ended"),
    "future": gettext_lazy("Not started"),
    "unknown": gettext_lazy("Not stated"),
}

UNIT_STATES = {
    "held": gettext_lazy("Held"),
    "buffer": gettext_lazy("In the buffer pool"),
    "retired": gettext_lazy("Retired"),
    "cancelled": gettext_lazy("Cancelled"),
    "exported": gettext_lazy("Exported"),
}

TRANSACTION_KINDS = {
    "issuance": gettext_lazy("Issuance"),
    "buffer_contribution": gettext_lazy("Buffer contribution"),
    "transfer": gettext_lazy("Transfer"),
    "retirement": gettext_lazy("Retirement"),
    "cancellation": gettext_lazy("Cancellation"),
    "reversal": gettext_lazy("Reversal"),
    "export": gettext_lazy("Export"),
    "import": gettext_lazy("Import"),
}

PURPOSES = {
    "voluntary": gettext_lazy("Voluntary offsetting"),
    "ndc": gettext_lazy("Use towards a nationally determined contribution"),
    "corsia": gettext_lazy("CORSIA (international aviation)"),
    "other_compliance": gettext_lazy("Other compliance scheme"),
    "other": gettext_lazy("Other purpose"),
}

REPORT_STATUSES = {
    "submitted": gettext_lazy("Awaiting verification"),
    "verified": gettext_lazy("Verified"),
    "rejected": gettext_lazy("Rejected"),
    "issued": gettext_lazy("Issued"),
    "withdrawn": gettext_lazy("Withdrawn"),
}

DOCUMENT_KINDS = {
    "design": gettext_lazy("Project design document"),
    "validation_report": gettext_lazy("Validation report"),
    "monitoring_report": gettext_lazy("Monitoring report"),
    "verification_report": gettext_lazy("Verification report"),
    "letter": gettext_lazy("Letter"),
    "other": gettext_lazy("Other document"),
}

# CDM sectoral scopes 1-15.
SCOPES = {
    1: gettext_lazy("Energy industries"),
    2: gettext_lazy("Energy distribution"),
    3: gettext_lazy("Energy demand"),
    4: gettext_lazy("Manufacturing industries"),
    5: gettext_lazy("Chemical industries"),
    6: gettext_lazy("Construction"),
    7: gettext_lazy("Transport"),
    8: gettext_lazy("Mining and mineral production"),
    9: gettext_lazy("Metal production"),
    10: gettext_lazy("Fugitive emissions from fuels"),
    11: gettext_lazy("Fugitive emissions from industrial gases"),
    12: gettext_lazy("Solvent use"),
    13: gettext_lazy("Waste handling and disposal"),
    14: gettext_lazy("Afforestation and reforestation"),
    15: gettext_lazy("Agriculture"),
}

SORTS = {
    "number": gettext_lazy("Oldest first"),
    "-number": gettext_lazy("Newest first"),
    "name": gettext_lazy("Name, A to Z"),
    "-name": gettext_lazy("Name, Z to A"),
    "project_id": gettext_lazy("Project identifier"),
    "status": gettext_lazy("Status"),
    "crediting": gettext_lazy("Crediting period start"),
    "-updated": gettext_lazy("Recently updated"),
}

ERRORS = {
    "SERIAL_MALFORMED": gettext_lazy(
        "That is not a serial number. Paste a full serial such as CI-VER-14-0001-2022-1-1-900, "
        "one number such as 1500, or a range such as 1000-1200."
    ),
    "SERIAL_RANGE_INVALID": gettext_lazy("The range must run from a smaller serial number to a larger one."),
    "SERIAL_PREFIX_MISMATCH": gettext_lazy(
        "Those serial numbers exist, but under another project, vintage or issuance than the one given."
    ),
    "SERIAL_NOT_FOUND": gettext_lazy("No units with those serial numbers exist in this registry."),
    "LEDGER_ENTRY_NOT_FOUND": gettext_lazy("That ledger entry does not exist."),
    "LEDGER_ENTRY_NOT_YET_CHECKPOINTED": gettext_lazy(
        "This entry is newer than the latest signed checkpoint; its proof will be available once the next "
        "checkpoint is signed (within minutes)."
    ),
    "CHECKPOINT_NOT_FOUND": gettext_lazy("No checkpoint has been signed yet."),
}


def status(value: str) -> str:
    return str(STATUSES.get(value, value))


def article6(value: str) -> str:
    return str(ARTICLE6.get(value, value))


def purpose(value: str) -> str:
    return str(PURPOSES.get(value, value))


def scope(value: int) -> str:
    name = SCOPES.get(int(value))
    return _("%(number)s. %(name)s") % {"number": value, "name": name} if name else str(value)


def facet_value(facet: str, value: str) -> str:
    if facet == "status":
        return status(value)
    if facet == "article6":
        return article6(value)
    if facet == "crediting":
        return str(CREDITING.get(value, value))
    if facet in ("sector", "type"):
        return picklist_labels.label(value)
    return value


def sort_options() -> list[tuple[str, str]]:
    return [(k, str(v)) for k, v in SORTS.items()]


def error_message(exc: RegistryError) -> str:
    known = ERRORS.get(exc.code)
    return str(known) if known is not None else refusals.text(exc)
