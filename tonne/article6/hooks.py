"""Where Article 6 joins the rest of the registry: issuance, moves into
terminal accounts, and approved authorisation requests."""

from __future__ import annotations


def install() -> None:
    from tonne.article6 import services
    from tonne.controls import services as controls
    from tonne.units import services as units

    if services.attach_at_issuance not in units.ISSUANCE_HOOKS:
        units.ISSUANCE_HOOKS.append(services.attach_at_issuance)
    if services.on_terminal_move not in units.TERMINAL_MOVE_HOOKS:
        units.TERMINAL_MOVE_HOOKS.append(services.on_terminal_move)
    controls.CARRY_OUT.update(
        {services.AUTHORISE: services._authorise, services.CHANGE: services._change, services.REVOKE: services._revoke}
    )
