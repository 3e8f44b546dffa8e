from django.urls import path

from tonne.portal import evidence, registers, views

app_name = "portal"

urlpatterns = [
    path("", views.home, name="home"),
    path("projects/", views.project_search, name="projects"),
    path("projects/export.<str:fmt>", views.project_export, name="projects-export"),
    path("projects/<str:project_id>/", views.project_page, name="project"),
    path("serials/", views.serial_lookup, name="serials"),
    path("serials/<str:serial>/trail/", evidence.trail, name="trail"),
    path("methodologies/", evidence.methodologies, name="methodologies"),
    path("certificates/<str:identifier>/", views.certificate, name="certificate"),
    path("certificates/<str:identifier>.pdf", views.certificate_pdf, name="certificate-pdf"),
    path("issuances/", registers.register, {"name": "issuances"}, name="issuances"),
    path("issuances/<uuid:uid>/", registers.issuance, name="issuance"),
    path("issuances/export.<str:fmt>", registers.register_export, {"name": "issuances"}, name="issuances-export"),
    path("retirements/", registers.register, {"name": "retirements"}, name="retirements"),
    path("retirements/export.<str:fmt>", registers.register_export, {"name": "retirements"}, name="retirements-export"),
    path("cancellations/", registers.register, {"name": "cancellations"}, name="cancellations"),
    path("cancellations/export.<str:fmt>", registers.register_export, {"name": "cancellations"}, name="cancellations-export"),
    path("dashboard/", views.dashboard_page, name="dashboard"),
    path("dashboard/<slug:chart>.csv", views.dashboard_csv, name="dashboard-csv"),
    path("ledger/", views.ledger_page, name="ledger"),
    path("ledger/verifier-key.txt", views.ledger_key, name="ledger-key"),
    path("ledger/checkpoint.txt", views.ledger_checkpoint_latest, name="ledger-checkpoint"),
    path("ledger/entries/<int:seq>/", views.ledger_entry, name="ledger-entry"),
    path("ledger/entries/<int:seq>/proof.json", views.ledger_entry_proof, name="ledger-entry-proof"),
]
