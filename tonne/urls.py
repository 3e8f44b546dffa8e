from allauth.account import views as allauth_views
from allauth.account.decorators import secure_admin_login
from django.contrib import admin
from django.urls import include, path

from tonne.api import api
from tonne.cadt.cadt_api import api as cadt_api
from tonne.cadt.views import cadt_page
from tonne.observer.views import findings_page, projects_page, upload_page
from tonne.portal.views import home

# The admin site signs in through allauth too, so its second factor applies there.
admin.site.login = secure_admin_login(admin.site.login)  # type: ignore[method-assign]

urlpatterns = [
    # First: every API call would otherwise be tried against each of the portal's patterns.
    path("api/v1/", api.urls),
    path("", home, name="home"),
    path("", include("tonne.portal.urls")),
    # Sign-in and second factors are django-allauth's (the old names stay for templates).
    path("accounts/login/", allauth_views.login, name="login"),
    path("accounts/logout/", allauth_views.logout, name="logout"),
    path("accounts/", include("allauth.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("workspace/", include("tonne.workspace.urls")),
    path("interop/cadt/", cadt_page, name="cadt-page"),
    path("cadt/", cadt_api.urls),
    path("observer/", findings_page, name="observer-findings"),
    path("observer/upload/", upload_page, name="observer-upload"),
    path("observer/projects/", projects_page, name="observer-projects"),
]

handler500 = "tonne.core.api_support.server_error"
