"""The signed-in workspace, mounted at /workspace/."""

from django.urls import path

from tonne.workspace import article6, mrv_data, views

app_name = "workspace"

urlpatterns = [
    path("", views.home, name="home"),
    path("apply/", views.apply, name="apply"),
    # Registry administrator
    path("inbox/", views.inbox, name="inbox"),
    path("inbox/<str:source>/<str:key>/", views.inbox_decide, name="inbox-decide"),
    path("overview/", views.overview, name="overview"),
    path("organisations/", views.organisations, name="organisations"),
    path("organisations/<uuid:uid>/", views.organisation, name="organisation"),
    path("organisation/", views.my_organisation, name="my-organisation"),
    path("article6/", article6.authorisations, name="article6"),
    path("article6/aef/", article6.aef_page, name="article6-aef"),
    path("article6/aef/<int:year>/<str:fmt>/", article6.aef_download, name="article6-aef-download"),
    path("article6/<str:identifier>/", article6.authorisation, name="article6-authorisation"),
    # Projects and monitoring
    path("projects/", views.project_list, name="projects"),
    path("projects/new/", views.project_new, name="project-new"),
    path("projects/<str:project_id>/", views.project_detail, name="project"),
    path("projects/<str:project_id>/edit/", views.project_edit, name="project-edit"),
    path("projects/<str:project_id>/data/", mrv_data.project_data, name="project-data"),
    path("projects/<str:project_id>/validate/", views.project_validate, name="project-validate"),
    path("projects/<str:project_id>/reports/new/", views.report_new, name="report-new"),
    path("assignments/", views.assignments, name="assignments"),
    path("reports/", views.report_list, name="reports"),
    path("reports/<str:uid>/", views.report_detail, name="report"),
    path("reports/<str:uid>/computation/", mrv_data.report_computation, name="report-computation"),
    # Accounts and units
    path("accounts/", views.account_list, name="accounts"),
    path("accounts/<str:identifier>/", views.account_detail, name="account"),
    path("accounts/<str:identifier>/trusted/", views.account_trusted, name="account-trusted"),
    path("accounts/<str:identifier>/limits/", views.account_limits, name="account-limits"),
    path("transfer/", views.transfer, name="transfer"),
    path("retire/", views.retire, name="retire"),
    path("transactions/", views.transaction_list, name="transactions"),
    path("transactions/<str:identifier>/", views.transaction_detail, name="transaction"),
    path("transactions/<str:identifier>/cancel/", views.transaction_cancel, name="transaction-cancel"),
]
