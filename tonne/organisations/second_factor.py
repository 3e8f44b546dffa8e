"""Who must have a second factor (TOTP or a security key; recovery codes are
the fallback) and whether they have one. It lives with the users so that API
tokens (issued and checked here) and the access layer apply the same rule:
every person who can move units or approve (roles admin, initiator, approver,
and the installation root) when TONNE_MFA_REQUIRED."""

from __future__ import annotations

from django.conf import settings

from tonne.core.errors import PermissionDenied
from tonne.organisations.models import User

SETUP_URL = "/accounts/2fa/"
MOVING_ROLES = (User.Role.ADMIN, User.Role.INITIATOR, User.Role.APPROVER)


def required(user: User | None) -> bool:
    if not settings.TONNE_MFA_REQUIRED or user is None or not user.is_authenticated:
        return False
    return bool(user.is_superuser or user.role in MOVING_ROLES)


# Set on a user instance read together with its second factor (authenticate_token's one row):
# that instance lives for one request, so nothing is kept beyond the read it came from.
_ENROLLED = "_tonne_second_factor_enrolled"


def enrolled_sql(user_id_column: str) -> tuple[str, list[str]]:
    """The same question as a SQL expression (with its parameters), to be asked in another statement."""
    from allauth.mfa.models import Authenticator  # allauth's models load after the apps registry

    return (
        f"EXISTS (SELECT 1 FROM {Authenticator._meta.db_table} m WHERE m.user_id = {user_id_column} "  # noqa: S608 (names; values bound)
        "AND m.type IN (%s, %s))",
        [Authenticator.Type.TOTP, Authenticator.Type.WEBAUTHN],
    )


def note_enrolled(user: User, found: bool) -> None:
    setattr(user, _ENROLLED, bool(found))


def enrolled(user: User) -> bool:
    from allauth.mfa.models import Authenticator

    noted = user.__dict__.get(_ENROLLED)
    if noted is not None:
        return bool(noted)
    return Authenticator.objects.filter(
        user=user, type__in=(Authenticator.Type.TOTP, Authenticator.Type.WEBAUTHN)
    ).exists()


def missing(user: User | None) -> bool:
    """True for a person who must have a second factor and has none: until
    they enrol they may do nothing else (no pages, no API, no tokens)."""
    return required(user) and not enrolled(user)  # type: ignore[arg-type]


def refuse_if_missing(user: User) -> None:
    if missing(user):
        raise PermissionDenied(
            "MFA_REQUIRED",
            f"Set up a second factor (authenticator app or security key) at {SETUP_URL} first.",
            details={"setup": SETUP_URL},
        )
