"""The reader's words for the registry's codes (statuses, kinds, roles, purposes)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy

LABELS = {
    "draft": gettext_lazy("draft"),
    # Article 6
    "active": gettext_lazy("active"),
    "revoked": gettext_lazy("revoked"),
    "article6_authorise": gettext_lazy("Article 6 authorisation"),
    "article6_change": gettext_lazy("change of an Article 6 authorisation"),
    "article6_revoke": gettext_lazy("revocation of an Article 6 authorisation"),
    "submitted": gettext_lazy("submitted"),
    "approved": gettext_lazy("approved"),
    "validated": gettext_lazy("validated"),
    "registered": gettext_lazy("registered"),
    "completed": gettext_lazy("completed"),
    "rejected": gettext_lazy("rejected"),
    "withdrawn": gettext_lazy("withdrawn"),
    "on_hold": gettext_lazy("on hold"),
    "verified": gettext_lazy("verified"),
    # a VVB's answer to its assignment, and its opinion
    "pending": gettext_lazy("pending"),  # an assignment awaiting its answer, a partner not yet in force
    "accepted": gettext_lazy("accepted"),
    "declined": gettext_lazy("declined"),
    "positive": gettext_lazy("positive"),
    "negative": gettext_lazy("negative"),
    "issued": gettext_lazy("issued"),
    "applied": gettext_lazy("applied"),
    "suspended": gettext_lazy("suspended"),
    "closed": gettext_lazy("closed"),
    "open": gettext_lazy("open"),
    # organisation kinds
    "government": gettext_lazy("government (registry administrator)"),
    "ministry": gettext_lazy("sectoral ministry"),
    "developer": gettext_lazy("project developer"),
    "vvb": gettext_lazy("validation / verification body"),
    "trader": gettext_lazy("buyer, trader or exchange"),
    "observer": gettext_lazy("observer"),
    # roles
    "admin": gettext_lazy("administrator"),
    "initiator": gettext_lazy("initiator"),
    "approver": gettext_lazy("approver"),
    "viewer": gettext_lazy("viewer"),
    # transaction kinds and account types
    "issuance": gettext_lazy("issuance"),
    "buffer_contribution": gettext_lazy("buffer contribution"),
    "transfer": gettext_lazy("transfer"),
    "retirement": gettext_lazy("retirement"),
    "cancellation": gettext_lazy("cancellation"),
    "reversal": gettext_lazy("reversal"),
    "export": gettext_lazy("export"),
    "import": gettext_lazy("import"),
    "holding": gettext_lazy("holding"),
    "buffer": gettext_lazy("buffer pool"),
    "omge": gettext_lazy("OMGE cancellation"),
    "sop": gettext_lazy("share of proceeds"),
    # unit states
    "held": gettext_lazy("held"),
    "retired": gettext_lazy("retired"),
    "cancelled": gettext_lazy("cancelled"),
    "exported": gettext_lazy("exported"),
    # retirement purposes
    "voluntary": gettext_lazy("voluntary"),
    "ndc": gettext_lazy("NDC"),
    "corsia": gettext_lazy("CORSIA"),
    "other_compliance": gettext_lazy("other compliance"),
    "other": gettext_lazy("other"),
    # document kinds
    "design": gettext_lazy("project design document"),
    "validation_report": gettext_lazy("validation report"),
    "monitoring_report": gettext_lazy("monitoring report"),
    "verification_report": gettext_lazy("verification report"),
    "letter": gettext_lazy("letter"),
    # transaction statuses
    "proposed": gettext_lazy("proposed"),
    "awaiting_approval": gettext_lazy("awaiting approval"),
    "delayed": gettext_lazy("delayed"),
    "failed": gettext_lazy("failed"),
    # transfers between registries (linkage) and partner registries
    "checked": gettext_lazy("checked, awaiting a decision"),
    "completing": gettext_lazy("completing"),
    "cancelling": gettext_lazy("cancelling"),
    "removed": gettext_lazy("removed"),
}
