"""The first-transfer rule (decision 2/CMA.3 annex I para 2(b); 6/CMA.4),
every (definition x event) pair, with the outcome written by hand from the
decisions: when the unit is first-transferred, under which purpose, and
which Party its corresponding adjustment names.

Reading the decisions: the Party defines the first transfer per authorised
purpose (authorisation, issuance, first international transfer, use or
cancellation); the first international transfer is the first transfer at the
latest, and a use or an OMGE cancellation of an authorised unit needs its
first transfer (no unit is used or leaves before it is adjusted for). The
adjustment names the acquiring Party of an international transfer (or the
Party that uses the unit towards its NDC); none for an OIMP use, a voluntary
cancellation or an OMGE cancellation, nor on authorisation or issuance (no
Party has acquired the unit yet). A voluntary cancellation of units
authorised for NDC use only is a first transfer too: the units are cancelled
for good and the authorising Party does not count them."""

from __future__ import annotations

import itertools

import pytest

from tonne.article6 import domain
from tonne.core.errors import ValidationFailed

AUTH, ISS, FIT, UOC = "authorisation", "issuance", "first_international_transfer", "use_or_cancellation"
DEFS = (AUTH, ISS, FIT, UOC)
NO = None
NOT_AUTHORISED = "PURPOSE_NOT_AUTHORISED"


def ft(purpose: str, party: str = "") -> tuple[str, str]:
    return (purpose, party)


# (event, definition) -> outcome, for an authorisation of one purpose.
# Outcome: NO (no first transfer), (purpose, adjustment Party), or a refusal code.
NDC_ONLY = {
    ("authorisation", AUTH): ft("ndc"), ("authorisation", ISS): NO,
    ("authorisation", FIT): NO, ("authorisation", UOC): NO,
    ("issuance", AUTH): ft("ndc"), ("issuance", ISS): ft("ndc"), ("issuance", FIT): NO, ("issuance", UOC): NO,
    ("domestic_transfer", AUTH): NO, ("domestic_transfer", ISS): NO,
    ("domestic_transfer", FIT): NO, ("domestic_transfer", UOC): NO,
    ("international_transfer", AUTH): ft("ndc", "CH"), ("international_transfer", ISS): ft("ndc", "CH"),
    ("international_transfer", FIT): ft("ndc", "CH"), ("international_transfer", UOC): ft("ndc", "CH"),
    ("use_ndc", AUTH): ft("ndc", "CH"), ("use_ndc", ISS): ft("ndc", "CH"),
    ("use_ndc", FIT): ft("ndc", "CH"), ("use_ndc", UOC): ft("ndc", "CH"),
    ("use_oimp", AUTH): NOT_AUTHORISED, ("use_oimp", ISS): NOT_AUTHORISED,
    ("use_oimp", FIT): NOT_AUTHORISED, ("use_oimp", UOC): NOT_AUTHORISED,
    # Cancelled for good: the authorising Party adjusts, naming no Party.
    ("voluntary_cancellation", AUTH): ft("ndc"), ("voluntary_cancellation", ISS): ft("ndc"),
    ("voluntary_cancellation", FIT): ft("ndc"), ("voluntary_cancellation", UOC): ft("ndc"),
    ("omge_cancellation", AUTH): ft("omge"), ("omge_cancellation", ISS): ft("omge"),
    ("omge_cancellation", FIT): ft("omge"), ("omge_cancellation", UOC): ft("omge"),
}
OIMP_ONLY = {
    ("authorisation", AUTH): ft("oimp"), ("authorisation", ISS): NO,
    ("authorisation", FIT): NO, ("authorisation", UOC): NO,
    ("issuance", AUTH): ft("oimp"), ("issuance", ISS): ft("oimp"), ("issuance", FIT): NO, ("issuance", UOC): NO,
    ("domestic_transfer", AUTH): NO, ("domestic_transfer", ISS): NO,
    ("domestic_transfer", FIT): NO, ("domestic_transfer", UOC): NO,
    ("international_transfer", AUTH): ft("oimp", "CH"), ("international_transfer", ISS): ft("oimp", "CH"),
    ("international_transfer", FIT): ft("oimp", "CH"), ("international_transfer", UOC): ft("oimp", "CH"),
    ("use_ndc", AUTH): NOT_AUTHORISED, ("use_ndc", ISS): NOT_AUTHORISED,
    ("use_ndc", FIT): NOT_AUTHORISED, ("use_ndc", UOC): NOT_AUTHORISED,
    # Issue case 2: a domestic OIMP use under "first international transfer" is a first transfer, naming no Party.
    ("use_oimp", AUTH): ft("oimp"), ("use_oimp", ISS): ft("oimp"),
    ("use_oimp", FIT): ft("oimp"), ("use_oimp", UOC): ft("oimp"),
    ("voluntary_cancellation", AUTH): ft("oimp"), ("voluntary_cancellation", ISS): ft("oimp"),
    ("voluntary_cancellation", FIT): ft("oimp"), ("voluntary_cancellation", UOC): ft("oimp"),
    ("omge_cancellation", AUTH): ft("omge"), ("omge_cancellation", ISS): ft("omge"),
    ("omge_cancellation", FIT): ft("omge"), ("omge_cancellation", UOC): ft("omge"),
}
# Both purposes: before any move, a first transfer only when both
# definitions name the event (the unit's purpose is not known yet).
BOTH_AT_AUTHORISATION = {(AUTH, AUTH)}
BOTH_AT_ISSUANCE = {(AUTH, AUTH), (AUTH, ISS), (ISS, AUTH), (ISS, ISS)}
# After: the purpose the unit moves under or is used for, and its definition.
BOTH_MOVES = {
    "domestic_transfer": NO,
    "international_transfer": ("ndc", "CH"),  # issue case 1: NDC governs a transfer to another Party
    "use_ndc": ("ndc", "CH"),
    "use_oimp": ("oimp", ""),
    "voluntary_cancellation": ("oimp", ""),
    "omge_cancellation": ("omge", ""),
}


def run(definitions: dict[str, str], event: str, *, already: bool = False, party: str = "CH") -> object:
    try:
        out = domain.first_transfer(definitions, event, already=already, party=party,
                                    acquiring_parties=["CH"], authorising_party="CI")
    except ValidationFailed as exc:
        return exc.code
    if not out.first_transfer:
        return NO
    return out


def test_the_tables_cover_every_pair():
    assert set(NDC_ONLY) == set(OIMP_ONLY) == set(itertools.product(domain.EVENTS, DEFS))
    assert set(BOTH_MOVES) | {"authorisation", "issuance"} == set(domain.EVENTS)


@pytest.mark.parametrize(("purpose", "table"), [("ndc", NDC_ONLY), ("oimp", OIMP_ONLY)])
@pytest.mark.parametrize(("event", "definition"), sorted(itertools.product(domain.EVENTS, DEFS)))
def test_one_purpose(purpose, table, event, definition):
    expected = table[(event, definition)]
    got = run({purpose: definition}, event)
    if expected is NO or isinstance(expected, str):
        assert got == expected
        return
    assert isinstance(got, domain.FirstTransferOutcome)
    assert (got.purpose, got.adjustment_party) == expected
    assert got.cause == definition  # the definition of the only purpose
    # A unit is first-transferred once: never again, whatever comes next.
    assert run({purpose: definition}, event, already=True) is NO


@pytest.mark.parametrize(("ndc", "oimp"), sorted(itertools.product(DEFS, DEFS)))
@pytest.mark.parametrize("event", domain.EVENTS)
def test_both_purposes(ndc, oimp, event):
    got = run({"ndc": ndc, "oimp": oimp}, event)
    if event in ("authorisation", "issuance"):
        at = BOTH_AT_AUTHORISATION if event == "authorisation" else BOTH_AT_ISSUANCE
        if (ndc, oimp) in at:
            assert isinstance(got, domain.FirstTransferOutcome)
            assert (got.purpose, got.adjustment_party) == ("ndc,oimp", "")
        else:
            assert got is NO
        return
    expected = BOTH_MOVES[event]
    if expected is NO:
        assert got is NO
        return
    assert isinstance(got, domain.FirstTransferOutcome)
    assert (got.purpose, got.adjustment_party) == expected
    assert got.cause == {"ndc": ndc, "oimp": oimp, "omge": oimp}[got.purpose]
    assert run({"ndc": ndc, "oimp": oimp}, event, already=True) is NO


@pytest.mark.parametrize("definition", DEFS)
def test_refusals_whatever_the_definition(definition):
    both = {"ndc": definition, "oimp": definition}
    # Only to, or for the NDC of, a Party the authorisation names.
    assert run(both, "international_transfer", party="SE") == "ACQUIRING_PARTY_NOT_AUTHORISED"
    assert run(both, "use_ndc", party="SE") == "ACQUIRING_PARTY_NOT_AUTHORISED"
    # Units authorised for transfer do not count towards the authorising Party's own NDC.
    with pytest.raises(ValidationFailed) as exc:
        domain.first_transfer(both, "use_ndc", already=False, party="CI", acquiring_parties=["CH", "CI"],
                              authorising_party="CI")
    assert exc.value.code == "NDC_USE_BY_AUTHORISING_PARTY"
    # A use not authorised is refused even after the first transfer.
    assert run({"ndc": definition}, "use_oimp", already=True) == NOT_AUTHORISED


def test_events_of_moves():
    assert domain.event_of_move("export", "", export=True) == "international_transfer"
    assert domain.event_of_move("retirement", "article6-ndc") == "use_ndc"
    assert domain.event_of_move("retirement", "article6-oimp") == "use_oimp"
    assert domain.event_of_move("cancellation", "article6-voluntary") == "voluntary_cancellation"
    assert domain.event_of_move("retirement", "voluntary") == "voluntary_cancellation"
    assert domain.event_of_move("omge", "") == "omge_cancellation"
    assert domain.event_of_move("cancellation", "article6-omge") == "omge_cancellation"


def test_definitions_per_purpose():
    assert domain.definitions_of({"first_transfer_definition": FIT}, ["ndc", "oimp"]) == {"ndc": FIT, "oimp": FIT}
    assert domain.definitions_of({"first_transfer_definitions": {"ndc": FIT, "oimp": UOC}}, ["ndc", "oimp"]) == {
        "ndc": FIT, "oimp": UOC}
    for bad in ({"first_transfer_definitions": {"ndc": FIT}}, {"first_transfer_definitions": {"ndc": "x", "oimp": UOC}},
                {"first_transfer_definitions": {"ndc": FIT, "oimp": UOC, "omge": FIT}},
                {"first_transfer_definitions": [FIT]}):
        with pytest.raises(ValidationFailed) as exc:
            domain.definitions_of(bad, ["ndc", "oimp"])
        assert exc.value.code == "FIRST_TRANSFER_DEFINITION_INVALID"
