"""Notices by e-mail: `mail` sends one (the notifications app mails through
it too), and a holder's representatives are told when its representatives change.

A change made without them (by a compromised colleague or administrator)
reaches the people who can stop it. Sent by Django's mail (EMAIL_BACKEND;
the console backend prints them) once the change is committed; the audit
record of the change stands whether or not a mail server answers."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction

from tonne.organisations import second_factor
from tonne.organisations.models import Organisation, User

log = logging.getLogger("tonne.organisations")
REPRESENTATIVE_ROLES = second_factor.MOVING_ROLES  # who moves units or approves


def recipients(organisation: Organisation, *, exclude: tuple[int | None, ...] = ()) -> list[str]:
    """The e-mail addresses of the organisation's active representatives but `exclude` (user ids)."""
    people = User.objects.filter(
        organisation=organisation, is_active=True, role__in=REPRESENTATIVE_ROLES
    ).exclude(pk__in=[pk for pk in exclude if pk is not None]).exclude(email="")
    return sorted(set(people.values_list("email", flat=True)))


def mail(to: list[str], subject: str, message: str) -> bool:
    """Send one notice now (the registry's name before its subject); False
    when no mail server answered (what it tells of stands regardless)."""
    try:
        send_mail(subject=f"[{settings.TONNE_REGISTRY_NAME}] {subject}", message=message,
                  from_email=settings.DEFAULT_FROM_EMAIL, recipient_list=to)
    except OSError:
        return False
    return True


def representatives_changed(organisation: Organisation, *, subject: str, message: str, exclude: tuple[int | None, ...] = ()) -> list[str]:
    """Tell the organisation's other representatives, after commit. Returns who will be told."""
    to = recipients(organisation, exclude=exclude)
    if not to:
        return to

    def send() -> None:
        if not mail(to, subject, message):  # no mail server: the audit record stands
            log.warning("could not send the representatives notice for %s", organisation.name)

    transaction.on_commit(send)
    return to
