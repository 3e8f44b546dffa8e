"""The comparison of two registries' reconciliation statements, without a
database: each (sender state × receiver state) of a flow, in both
directions, and ranges or quantities that differ."""

from __future__ import annotations

import pytest

from tonne.linkage import reconciliation_domain as d

T = "00000000-0000-4000-8000-000000000001"
R = ((100, 199),)


def sent(state: str, ranges: d.Ranges = R, transfer: str = T) -> d.Line:
    return d.Line(transfer, "sent", state, ranges)


def received(ranges: d.Ranges = R, transfer: str = T) -> d.Line:
    return d.Line(transfer, "received", "completed", ranges)


@pytest.mark.parametrize(("sender", "receiver", "code"), [
    ("proposed", None, None),  # the receiver has not decided: in flight
    ("completing", None, None),  # the completion has not reached it yet
    ("completed", None, d.NOT_RECEIVED),
    (None, "completed", d.TRANSFER_UNKNOWN),
    ("proposed", "completed", d.RECEIVED_IN_TRANSIT),  # live in two registries
    ("completing", "completed", None),  # created there; the sender has not taken the answer yet
    ("completed", "completed", None),
])
def test_each_pair_of_states_in_both_directions(sender: str | None, receiver: str | None, code: str | None) -> None:
    s = [sent(sender)] if sender else []
    r = [received()] if receiver else []
    we_sent = d.compare(s, r)
    they_sent = d.compare(r, s)
    assert [f.code for f in we_sent] == ([code] if code else [])
    assert [f.code for f in they_sent] == ([code] if code else [])
    assert all(f.ours_sent for f in we_sent) and not any(f.ours_sent for f in they_sent)


def test_ranges_or_quantities_that_differ() -> None:
    (found,) = d.compare([sent("completed")], [received(((100, 189),))])
    assert found.code == d.RANGES_DIFFER and found.ranges() == ((100, 199),)
    assert found.detail()["theirs"] == {"direction": "received", "state": "completed", "ranges": [[100, 189]],
                                        "quantity": 90}
    (shifted,) = d.compare([received(((300, 399),))], [sent("completed")])
    assert shifted.code == d.RANGES_DIFFER and shifted.ranges() == ((100, 199), (300, 399))
    # the same serials split differently are the same units
    assert d.compare([sent("completed")], [received(((100, 149), (150, 199)))]) == []


def test_only_the_flows_that_differ_and_each_transfer_on_its_own() -> None:
    other = "00000000-0000-4000-8000-000000000002"
    ours = [sent("completed"), received(transfer=other)]
    theirs = [received(), sent("completed", transfer=other)]
    assert d.compare(ours, theirs) == []
    found = d.compare(ours, [received()])  # they forgot they sent `other`
    assert [(f.transfer, f.code, f.ours_sent) for f in found] == [(other, d.TRANSFER_UNKNOWN, False)]
