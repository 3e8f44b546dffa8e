"""Who must have a second factor, and when a recent one is needed.

- Every person who can move units or approve (roles admin, initiator,
  approver, and the installation root) must have a second factor (TOTP or a
  security key; recovery codes are the fallback) when TONNE_MFA_REQUIRED.
- Moving units, approving, and changing trusted lists or limits through a
  browser session needs a second factor confirmed within the last
  TONNE_STEP_UP_MINUTES (step-up): a stolen session cookie alone moves nothing.
- API tokens: a trade or admin token can only be created from a session with
  a fresh second factor (or by a token of at least that scope), and works only
  while its owner still has a second factor. A read token needs neither."""

from __future__ import annotations

from allauth.account.authentication import get_authentication_records
from django.conf import settings
from django.http import HttpRequest

from tonne.core import clock
from tonne.core.errors import PermissionDenied
from tonne.organisations import second_factor
from tonne.organisations.models import User

REAUTHENTICATE_URL = "/accounts/2fa/reauthenticate/"
SETUP_URL = second_factor.SETUP_URL
MOVING_ROLES = second_factor.MOVING_ROLES
needs_mfa = second_factor.required
has_mfa = second_factor.enrolled


def last_second_factor(request: HttpRequest, user: User) -> float | None:
    """When this session last confirmed a second factor (epoch seconds)."""

    times = [float(r.get("at", 0)) for r in get_authentication_records(request, user) if r.get("method") == "mfa"]
    return max(times) if times else None


def has_recent_second_factor(request: HttpRequest, user: User) -> bool:
    at = last_second_factor(request, user)
    return at is not None and clock.now().timestamp() - at <= settings.TONNE_STEP_UP_MINUTES * 60


def require_step_up(request: HttpRequest, user: User) -> None:
    """Before moving units or approving: refuse a caller without a second
    factor, and a browser session without a recent one."""
    if not needs_mfa(user):
        return
    second_factor.refuse_if_missing(user)
    if getattr(request, "api_token", None) is not None:
        return
    if not has_recent_second_factor(request, user):
        raise PermissionDenied(
            "STEP_UP_REQUIRED",
            f"Confirm your second factor again (at {REAUTHENTICATE_URL}); "
            f"this needs one from the last {settings.TONNE_STEP_UP_MINUTES} minutes.",
            details={"reauthenticate": REAUTHENTICATE_URL, "window_minutes": settings.TONNE_STEP_UP_MINUTES},
        )
