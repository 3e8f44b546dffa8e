from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from tonne.api import api
from tonne.cadt.cadt_api import api as cadt_api
from tonne.cadt.views import cadt_page
from tonne.portal.views import home

urlpatterns = [
    path("", home, name="home"),
    path("", include("tonne.portal.urls")),
    path("accounts/login/", auth_views.LoginView.as_view(template_name="core/login.html"), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
    path("workspace/", include("tonne.workspace.urls")),
    path("interop/cadt/", cadt_page, name="cadt-page"),
    path("cadt/", cadt_api.urls),
]
