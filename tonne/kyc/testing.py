"""Builders for tests and the demo: an organisation with verified KYC."""

from __future__ import annotations

from tonne.kyc import services as kyc
from tonne.kyc.models import KycProfile
from tonne.organisations.models import Organisation, User


def verified_kyc(organisation: Organisation, admin: User, *, owners: list[dict] | None = None) -> KycProfile:
    kyc.submit_profile(
        actor=admin,
        organisation=organisation,
        data={
            "legal_name": organisation.name,
            "legal_form": "SA",
            "registration_country": organisation.country or "CI",
            "registration_number": f"RCCM-{organisation.pk:05d}",
            "registered_address": "Plateau, Abidjan",
            "beneficial_owners": owners or [{"name": f"Owner of {organisation.name}", "ownership_basis_points": 10000}],
        },
    )
    kyc.upload_document(
        actor=admin, organisation=organisation, kind="registration", filename="registration.pdf",
        content=f"%PDF-1.4 registration of {organisation.name}".encode(), content_type="application/pdf",
    )
    return kyc.verify_profile(actor=admin, organisation=organisation)
