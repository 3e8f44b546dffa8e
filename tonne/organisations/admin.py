from django.contrib import admin

from tonne.core.admin_support import ReadOnlyAdmin
from tonne.organisations.models import Account, ApiToken, Organisation, User


@admin.register(Organisation)
class OrganisationAdmin(ReadOnlyAdmin):
    list_display = ("name", "kind", "status", "country", "accredited", "created_at")
    list_filter = ("kind", "status", "accredited")
    search_fields = ("name", "registration_number")


@admin.register(User)
class UserAdmin(ReadOnlyAdmin):
    list_display = ("username", "organisation", "role", "is_superuser", "is_active", "last_login")
    list_filter = ("role", "is_superuser", "is_active")
    search_fields = ("username", "email")
    exclude = ("password",)


@admin.register(Account)
class AccountAdmin(ReadOnlyAdmin):
    list_display = ("identifier", "name", "type", "organisation", "status", "is_terminal")
    list_filter = ("type", "status")
    search_fields = ("identifier", "name")


@admin.register(ApiToken)
class ApiTokenAdmin(ReadOnlyAdmin):
    list_display = ("prefix", "name", "user", "scope", "expires_at", "revoked_at")
    exclude = ("token_hash",)
