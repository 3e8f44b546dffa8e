"""Who handles what a lower layer decides but a higher one does: the one
place that lists every handler (settings.TONNE_WIRING names this module).
Units call the reactions to issuance and terminal moves, and ask the
controls through their port (installed by `install`, which tonne.ops runs
at start-up); the controls call the handlers of approved requests."""

from __future__ import annotations

from django.conf import settings

from tonne.article6 import international
from tonne.article6 import partners as article6_partners
from tonne.article6 import services as article6
from tonne.cadt import sources as cadt_sources
from tonne.controls import destinations
from tonne.controls.gate import MoveControls
from tonne.controls.handlers import Handlers
from tonne.linkage import receiving as linkage_receiving
from tonne.linkage import services as linkage
from tonne.mrv import approvals as issuance
from tonne.observer.cadt_source import ObservedRecords
from tonne.units import controls_port
from tonne.units.models import Transaction
from tonne.units.reactions import Reactions

UNITS = Reactions(
    on_issuance=(article6.attach_at_issuance,),  # the holder's units carry their authorisation
    on_terminal_move=(article6.on_terminal_move,),  # a use or cancellation is the first transfer
)

CONTROLS = Handlers(
    issuance_payload=issuance.issuance_payload,
    carry_out={
        "issuance": issuance.carry_out_issuance,
        article6.AUTHORISE: article6.carry_out_authorise,
        article6.CHANGE: article6.carry_out_change,
        article6.REVOKE: article6.carry_out_revoke,
        international.IMPORT: international.carry_out_import,  # units from another registry
        destinations.ADD: destinations.carry_out_addition,  # a trusted destination for exports
        linkage.ADD: linkage.carry_out_addition,  # a partner registry
        linkage.CHANGE: linkage.carry_out_change,
        linkage.ADD_KEY: linkage.carry_out_key,
        linkage_receiving.ACCEPT: linkage_receiving.carry_out_accept,  # a partner's transfer, four-eyes
    },
    on_settled={
        Transaction.Kind.EXPORT: international.on_export_settled,  # the signed transfer file, once the units left
    },
)


def install() -> None:
    """At start-up: the controls join the unit-moving path; an observer node's
    CAD Trust exports and totals carry the registries it observes."""
    controls_port.install(MoveControls())
    article6_partners.install(linkage.PartnerList())  # whom received transfer files may come from
    cadt_sources.install(*([ObservedRecords()] if settings.TONNE_MODE == "observer" else []))
