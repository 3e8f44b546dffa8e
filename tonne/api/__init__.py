"""The REST API: one NinjaAPI assembling each domain's router.

Served at /api/v1 (OpenAPI 3.1 at /api/v1/openapi.json, docs at
/api/v1/docs with Swagger UI assets served locally from ninja's static
files). Every error is an RFC 9457 problem document with a stable code."""

from __future__ import annotations

from ninja.openapi.docs import Swagger

from tonne.access.api import router as tokens_router
from tonne.aml.api import router as aml_router
from tonne.api import holdings, members, openings
from tonne.article6.api import router as article6_router
from tonne.audit.api import router as audit_router
from tonne.audit.services import record_denial
from tonne.cadt.api import router as cadt_router
from tonne.controls.api import router as controls_router
from tonne.core.api_support import TonneAPI, install_error_handlers
from tonne.kyc.api import router as kyc_router
from tonne.ledger.api import router as ledger_router
from tonne.linkage.api import router as linkage_router
from tonne.mrv.api import router as mrv_router
from tonne.mrv.dmrv_api import router as dmrv_router
from tonne.notifications.api import router as notifications_router
from tonne.observer.api import router as observer_router
from tonne.organisations.api import router as organisations_router
from tonne.projects.api import router as projects_router
from tonne.projects.reference_api import router as reference_router
from tonne.units.api import router as units_router
from tonne.units.batch_api import router as units_batch_router
from tonne.units.onward_api import router as units_onward_router

api = TonneAPI(
    title="Tonne registry API",
    version="1.0.0",
    description=(
        "The national carbon registry's REST API. Public reads need no login; "
        "everything else takes a browser session (with CSRF) or "
        "`Authorization: Bearer tonne_...` (scopes: read, trade, admin). "
        "Errors are `application/problem+json` with a stable `code`."
    ),
    urls_namespace="api-v1",
    docs=Swagger(),
)
install_error_handlers(api, on_denial=record_denial)
api.add_router("", organisations_router)
api.add_router("", members.router)
api.add_router("", tokens_router)
api.add_router("", holdings.router)
api.add_router("", projects_router)
api.add_router("", reference_router)
api.add_router("", mrv_router)
api.add_router("", dmrv_router)
api.add_router("", units_batch_router)  # before units: /retirements/batch is not a retirement
api.add_router("", units_router)
api.add_router("", units_onward_router)
api.add_router("", ledger_router)
api.add_router("", openings.router)
api.add_router("", cadt_router)
api.add_router("", audit_router)
api.add_router("", controls_router)
api.add_router("", kyc_router)
api.add_router("", aml_router)
api.add_router("", linkage_router)
api.add_router("", article6_router)
api.add_router("", observer_router)
api.add_router("", notifications_router)
