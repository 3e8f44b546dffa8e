"""Authorisations that change (issue case 4): narrowed vintages, a lower
quantity, a quantity per vintage. Units not yet first-transferred that the
new terms no longer cover are withdrawn when the change takes effect, with
an action row; units already first-transferred keep their status; the AEF
shows each version and what it did. Expected rows written by hand."""

from __future__ import annotations

import datetime as dt

import pytest

from tonne import testing
from tonne.article6 import aef, international, selectors
from tonne.article6 import services as a6
from tonne.article6.models import AuthorisedRange, FirstTransfer, Withdrawal
from tonne.article6.tests.conftest import T0, key
from tonne.core import clock
from tonne.core.errors import ValidationFailed
from tonne.units.domain import Selection

pytestmark = pytest.mark.django_db
FIXED = ("identifier", "cooperative_approach", "first_transfer_definition")


def change(world, authorisation, effective=None, **terms):
    data = {k: v for k, v in world.terms(**terms).items() if k not in FIXED}
    world.approve(a6.request_change(actor=world.reg.admin, identifier=authorisation.identifier, data=data,
                                    effective_from=effective))


def use(world, start, end, use="oimp", **kw):
    kw.setdefault("using_entity", "Airline SA")
    kw.setdefault("oimp_purpose", "CORSIA")
    return a6.use_units(actor=world.reg.developer, from_account=world.reg.developer_account.identifier,
                        selection=Selection.build(ranges=[(start, end)]), use=use, idempotency_key=key(), **kw)


def test_narrowed_vintages_withdraw_units_not_first_transferred(world):
    authorisation = world.authorise(quantity=2000, purposes=["ndc", "oimp"], oimp_purposes="CORSIA",
                                    first_transfer_definitions={"ndc": "first_international_transfer",
                                                                "oimp": "use_or_cancellation"})
    clock.freeze(T0 + dt.timedelta(hours=1))
    _, (i24, i25) = testing.issue(world.reg, world.project, {2024: 300, 2025: 300})
    a, b = i24.serial_start, i25.serial_start
    clock.freeze(T0 + dt.timedelta(days=1))
    use(world, b, b + 49)  # 50 of vintage 2025 first-transferred before the change
    clock.freeze(T0 + dt.timedelta(days=2))
    change(world, authorisation, vintage_from=2024, vintage_to=2024, purposes=["ndc", "oimp"], oimp_purposes="CORSIA")
    assert list(Withdrawal.objects.values_list("vintage", "serial_start", "serial_end")) == [(2025, b + 50, b + 299)]
    # Issue case 4: vintage 2025 neither goes abroad as ITMOs nor is used for OIMP as authorised any more.
    with pytest.raises(ValidationFailed) as exc:
        international.export_units(actor=world.reg.developer, from_account=world.reg.developer_account.identifier,
                                   ranges=[(b + 100, b + 199)], destination_party="CH", destination_registry="CH-TONNE",
                                   destination_account="CH-1", idempotency_key=key())
    assert exc.value.code == "UNITS_NOT_AUTHORISED"
    use(world, b + 200, b + 299, use="voluntary_cancellation")  # a mitigation contribution unit now
    assert list(FirstTransfer.objects.values_list("serial_start", "serial_end")) == [(b, b + 49)]
    seg = selectors.segments(b, b + 299)
    assert [(x["serial_start"], x["serial_end"], x["label"]) for x in seg] == [
        (b, b + 49, "authorised"), (b + 50, b + 299, "mitigation_contribution")]
    # Vintage 2024 is untouched.
    assert selectors.segments(a, a + 299)[0]["label"] == "authorised"
    st = selectors.status(authorisation)
    assert (st["attached"], st["first_transferred"], st["withdrawn_by_change"], st["awaiting_first_transfer"]) == (
        600, 50, 250, 300)

    report = aef.build(2026)
    itmo = lambda n, v: f"CI-CH-2024:CI-TONNE:CI:{n}:{v}"  # noqa: E731
    assert [(r["date"], r["type"], r["subtype"], r["quantity_t_co2"], r["itmo_first_id"], r["itmo_last_id"])
            for r in report["tables"]["actions"]] == [
        ("2026-03-03", "Authorization", "", 300, itmo(a, 2024), itmo(a + 299, 2024)),
        ("2026-03-03", "Authorization", "", 300, itmo(b, 2025), itmo(b + 299, 2025)),
        ("2026-03-04", "First Transfer", "", 50, itmo(b, 2025), itmo(b + 49, 2025)),
        ("2026-03-04", "Use", "Use for OIMP", 50, itmo(b, 2025), itmo(b + 49, 2025)),
        ("2026-03-05", "Authorization", "Change", 250, itmo(b + 50, 2025), itmo(b + 299, 2025)),
    ]
    assert [(r["version"], r["authorized_timeframe"], r["additional_information"])
            for r in report["tables"]["authorizations"]] == [
        ("1", "2024-2025", ""),
        ("2", "2024-2024", "withdraws 250 units not first-transferred from 2026-03-05T09:00:00+00:00"),
    ]
    assert [h["quantity_t_co2"] for h in report["tables"]["holdings"]] == [300]
    assert report["review"] == [] and all(c["ok"] for c in report["checks"]), report["checks"]


def test_lower_quantity_and_quantity_per_vintage(world):
    authorisation = world.authorise(quantity=1000, first_transfer_definition="use_or_cancellation",
                                    vintage_quantities={"2025": 200})
    clock.freeze(T0 + dt.timedelta(hours=1))
    _, (i24, i25) = testing.issue(world.reg, world.project, {2024: 500, 2025: 500})
    a, b = i24.serial_start, i25.serial_start
    # At most 200 of vintage 2025 are authorised.
    assert list(AuthorisedRange.objects.values_list("vintage", "serial_start", "serial_end")) == [
        (2024, a, a + 499), (2025, b, b + 199)]
    use(world, a + 400, a + 499, use="ndc", using_party="CH", using_entity="", oimp_purpose="")
    clock.freeze(T0 + dt.timedelta(days=1))
    later = T0 + dt.timedelta(days=5)
    change(world, authorisation, later, quantity=450, vintage_quantities={"2025": 150})
    # The last attached go first: 50 of 2025 for its cap, then 200 more for the total, the highest
    # serials first (the other 150 of 2025, then 50 of 2024), first-transferred units kept.
    assert list(Withdrawal.objects.values_list("vintage", "serial_start", "serial_end")) == [
        (2024, a + 350, a + 399), (2025, b, b + 199)]
    # Before the change takes effect the units are still authorised: a use first-transfers them.
    clock.freeze(T0 + dt.timedelta(days=2))
    use(world, a + 390, a + 399, use="ndc", using_party="CH", using_entity="", oimp_purpose="")
    clock.freeze(later)
    st = selectors.status(authorisation)
    assert (st["attached"], st["first_transferred"], st["withdrawn_by_change"]) == (700, 110, 240)
    clock.freeze(later + dt.timedelta(hours=1))
    report = aef.build(2026)
    changes = [(r["date"], r["subtype"], r["quantity_t_co2"]) for r in report["tables"]["actions"]
               if r["subtype"] == "Change"]
    assert changes == [("2026-03-08", "Change", 40), ("2026-03-08", "Change", 200)]
    assert report["review"] == [] and all(c["ok"] for c in report["checks"]), report["checks"]
