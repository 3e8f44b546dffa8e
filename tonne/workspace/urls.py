"""The signed-in workspace, mounted at /workspace/."""

from django.urls import path

from tonne.workspace import article6, mrv_data
from tonne.workspace.views import (
    accounts,
    administration,
    benefits,
    home,
    moves,
    mrv_sources,
    organisation,
    projects,
    reports,
)

app_name = "workspace"

urlpatterns = [
    path("", home.home, name="home"),
    path("apply/", administration.apply, name="apply"),
    # Registry administrator
    path("inbox/", administration.inbox, name="inbox"),
    path("inbox/<str:source>/<str:key>/", administration.inbox_item, name="inbox-item"),
    path("inbox/<str:source>/<str:key>/approve/", administration.inbox_approve, name="inbox-approve"),
    path("inbox/<str:source>/<str:key>/reject/", administration.inbox_reject, name="inbox-reject"),
    path("overview/", administration.overview, name="overview"),
    path("organisations/", administration.organisations, name="organisations"),
    path("organisations/<uuid:uid>/", organisation.organisation, name="organisation"),
    path("organisations/<uuid:uid>/status/", organisation.organisation_status, name="organisation-status"),
    path(
        "organisations/<uuid:uid>/accreditation/",
        organisation.organisation_accreditation,
        name="organisation-accreditation",
    ),
    path("organisations/<uuid:uid>/users/", organisation.organisation_user, name="organisation-user"),
    path("organisations/<uuid:uid>/members/", organisation.organisation_member, name="organisation-member"),
    path("organisations/<uuid:uid>/accounts/", organisation.organisation_account, name="organisation-account"),
    path("organisation/", administration.my_organisation, name="my-organisation"),
    path("article6/", article6.authorisations, name="article6"),
    path("article6/aef/", article6.aef_page, name="article6-aef"),
    path("article6/aef/<int:year>/<str:fmt>/", article6.aef_download, name="article6-aef-download"),
    path("article6/<str:identifier>/", article6.authorisation, name="article6-authorisation"),
    path("article6/<str:identifier>/change/", article6.authorisation_change, name="article6-authorisation-change"),
    path("article6/<str:identifier>/revoke/", article6.authorisation_revoke, name="article6-authorisation-revoke"),
    # Projects and monitoring
    path("projects/", projects.project_list, name="projects"),
    path("projects/new/", projects.project_new, name="project-new"),
    path("projects/<str:project_id>/", projects.project_detail, name="project"),
    path("projects/<str:project_id>/status/", projects.project_status, name="project-status"),
    path("projects/<str:project_id>/documents/", projects.project_upload, name="project-upload"),
    path("projects/<str:project_id>/edit/", projects.project_edit, name="project-edit"),
    path("projects/<str:project_id>/data/", mrv_data.project_data, name="project-data"),
    path("projects/<str:project_id>/data/sources/new/", mrv_sources.source_new, name="source-new"),
    path("projects/<str:project_id>/data/sources/<str:uid>/calibrations/", mrv_sources.source_calibration,
         name="source-calibration"),
    path("projects/<str:project_id>/benefits/", benefits.benefits_page, name="benefits"),
    path("projects/<str:project_id>/benefits/plan/", benefits.benefit_plan, name="benefit-plan"),
    path("projects/<str:project_id>/benefits/disbursements/", benefits.disbursement, name="benefit-disbursement"),
    path("projects/<str:project_id>/benefits/consents/", benefits.consent, name="benefit-consent"),
    path("projects/<str:project_id>/benefits/grievances/", benefits.grievance, name="benefit-grievance"),
    path("projects/<str:project_id>/benefits/grievances/<str:uid>/", benefits.grievance_status,
         name="benefit-grievance-status"),
    path("projects/<str:project_id>/validate/", projects.project_validate, name="project-validate"),
    path("projects/<str:project_id>/reports/new/", reports.report_new, name="report-new"),
    path("assignments/", reports.assignments, name="assignments"),
    path("reports/", reports.report_list, name="reports"),
    path("reports/<str:uid>/", reports.report_detail, name="report"),
    path("reports/<str:uid>/verify/", reports.report_verify, name="report-verify"),
    path("reports/<str:uid>/issue/", reports.report_issue, name="report-issue"),
    path("reports/<str:uid>/reject/", reports.report_reject, name="report-reject"),
    path("reports/<str:uid>/computation/", mrv_data.report_computation, name="report-computation"),
    # Accounts and units
    path("accounts/", accounts.account_list, name="accounts"),
    path("accounts/<str:identifier>/", accounts.account_detail, name="account"),
    path("accounts/<str:identifier>/trusted/", accounts.account_trusted, name="account-trusted"),
    path("accounts/<str:identifier>/limits/", accounts.account_limits, name="account-limits"),
    path("transfer/", moves.transfer, name="transfer"),
    path("retire/", moves.retire, name="retire"),
    path("transactions/", moves.transaction_list, name="transactions"),
    path("transactions/<str:identifier>/", moves.transaction_detail, name="transaction"),
    path("transactions/<str:identifier>/cancel/", moves.transaction_cancel, name="transaction-cancel"),
]
