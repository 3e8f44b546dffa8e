from allauth.account import views as allauth_views
from django.contrib import admin
from django.urls import include, path

from tonne.api import api
from tonne.core.views import home

urlpatterns = [
    path("", home, name="home"),
    # Sign-in and second factors are django-allauth's (the old names stay for templates).
    path("accounts/login/", allauth_views.login, name="login"),
    path("accounts/logout/", allauth_views.logout, name="logout"),
    path("accounts/", include("allauth.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
]
