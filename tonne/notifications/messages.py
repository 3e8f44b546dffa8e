"""The words of each notification, in the reader's language (rendered when
read or mailed, so a change of language shows at once)."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

TEXTS: dict[str, Any] = {
    "project_recorded": _("Project %(project)s (%(name)s) was recorded: %(status)s."),
    "project_status": _("Project %(project)s (%(name)s) is now %(status)s."),
    "project_awaits_review": _("Project %(project)s (%(name)s) awaits your review."),
    "project_awaits_validation": _("Project %(project)s (%(name)s) awaits your validation."),
    "project_awaits_registration": _("Project %(project)s (%(name)s) is validated and awaits registration."),
    "project_frozen": _("Project %(project)s was frozen."),
    "report_submitted": _("A monitoring report of project %(project)s was submitted."),
    "report_assigned": _("A monitoring report of project %(project)s is assigned to you for verification."),
    "assignment_accepted": _("The VVB accepted to verify a monitoring report of project %(project)s."),
    "assignment_declined": _("The VVB declined to verify a monitoring report of project %(project)s: "
                             "choose another VVB."),
    "report_verified": _("A monitoring report of project %(project)s was verified."),
    "report_awaits_issuance": _("A verified monitoring report of project %(project)s awaits the issuance decision."),
    "verification_awaits_approval": _("The verification of a monitoring report of project %(project)s awaits "
                                      "the registry's approval."),
    "verification_approved": _("The registry approved the verification of a monitoring report of project "
                               "%(project)s."),
    "report_rejected": _("A monitoring report of project %(project)s was rejected."),
    "organisation_applied": _("%(organisation)s applied to join the registry and awaits your decision."),
    "organisation_status": _("Your organisation %(organisation)s is now %(status)s."),
    "accreditation_changed": _("The accreditation of %(organisation)s changed."),
    "account_status": _("Account %(account)s is now %(status)s."),
    "account_controls": _("The controls of account %(account)s changed (limits or trusted accounts)."),
    "account_frozen": _("Account %(account)s was frozen."),
    "linkage_mismatch": _("Reconciliation with partner registry %(registry)s found a mismatch (%(code)s): the units "
                          "concerned are frozen until it is resolved."),
    "transaction_completed": _("Transaction %(transaction)s (%(kind)s) was completed."),
    "approval_requested": _("A request (%(action)s) awaits your approval."),
    "approval_decided": _("Your request (%(action)s) was %(status)s."),
    "authorisation_granted": _("Article 6 authorisation %(authorisation)s was granted for projects %(projects)s."),
    "authorisation_changed": _("Article 6 authorisation %(authorisation)s was changed; %(withdrawn)s units not yet "
                               "first-transferred are withdrawn from it."),
    "authorisation_revoked": _("Article 6 authorisation %(authorisation)s is revoked from %(effective_from)s: units "
                               "not yet first-transferred are no longer authorised."),
    "first_transfer_recorded": _("%(quantity)s units of Article 6 authorisation %(authorisation)s were first-transferred "
                                 "in transaction %(transaction)s; a corresponding adjustment is recorded (acquiring "
                                 "Party: %(party)s)."),
    "itmo_sent": _("Transaction %(transaction)s: authorised units left for %(party)s (registry %(registry)s)."),
    "itmo_received": _("Transaction %(transaction)s: %(quantity)s units were received from %(party)s "
                       "(registry %(registry)s)."),
}

# Codes shown as words (their translations are the workspace's labels).
WORDS = frozenset({
    "submitted", "approved", "validated", "registered", "completed", "rejected", "withdrawn", "on_hold",
    "verified", "issued", "applied", "suspended", "closed", "open", "draft", "expired", "cancelled",
    "issuance", "buffer_contribution", "transfer", "retirement", "cancellation", "reversal", "export", "import",
})


def word(code: str) -> str:
    return gettext(code.replace("_", " ")) if code in WORDS else code


def text(event: str, params: dict[str, Any]) -> str:
    """The sentence for `event`; what it names shown as the reader's words."""
    shown = {key: word(value) if key in ("status", "kind", "action") and isinstance(value, str) else value
             for key, value in params.items()}
    template = TEXTS.get(event)
    if template is None:
        return event
    try:
        return str(template) % shown
    except (KeyError, TypeError, ValueError):  # an older row without a parameter: the bare sentence
        return str(template)


def reason(params: dict[str, Any]) -> str:
    value = params.get("reason")
    return value if isinstance(value, str) else ""
