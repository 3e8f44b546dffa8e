"""The country's public holidays, kept by the registry administrator.

A holiday lengthens every delay counted in working days, so adding one is
safe at any time; removing one shortens delays, so only a day still to come
may be removed, the administrator having confirmed their identity again
(step-up, asked by the web and API), and the change is in the ledger."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import IntegrityError, transaction

from tonne.controls.models import Holiday
from tonne.core import clock
from tonne.core.errors import Conflict, NotFound, ValidationFailed
from tonne.core.text import fits
from tonne.ledger.services import append_entry
from tonne.organisations.models import User
from tonne.organisations.services import require_registry_administrator

FURTHEST_YEARS = 10  # a holiday is declared for the coming years, not for ever


def declared() -> frozenset[dt.date]:
    """Every holiday in force: the settings' and the administrator's."""
    return frozenset(settings.TONNE_HOLIDAYS) | frozenset(Holiday.objects.values_list("day", flat=True))


def _today() -> dt.date:
    return clock.now().date()


def _day(value: object) -> dt.date:
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value or "").strip())
    except ValueError:
        raise ValidationFailed("HOLIDAY_DATE_INVALID", "A holiday is a date written as YYYY-MM-DD.", field="day") from None


def add_holiday(*, actor: User, day: object, name: str) -> Holiday:
    require_registry_administrator(actor)
    when = _day(day)
    today = _today()
    if not today.replace(year=today.year - 1) <= when <= today.replace(year=today.year + FURTHEST_YEARS):
        raise ValidationFailed("HOLIDAY_DATE_OUT_OF_RANGE",
                               f"A holiday is declared from a year ago to {FURTHEST_YEARS} years ahead.", field="day", details={"years": FURTHEST_YEARS})
    title = fits(Holiday, "name", name)
    if not title:
        raise ValidationFailed("FIELD_REQUIRED", "Name the holiday.", field="name")
    try:
        with transaction.atomic():
            holiday = Holiday.objects.create(day=when, name=title, added_by=actor, added_at=clock.now())
            append_entry(kind="controls.holiday_added", actor=actor, data={"day": when.isoformat(), "name": title})
    except IntegrityError:
        raise Conflict("HOLIDAY_EXISTS", f"{when.isoformat()} is already a holiday.", field="day", details={"date": when.isoformat()}) from None
    return holiday


@transaction.atomic
def remove_holiday(*, actor: User, day: object) -> None:
    require_registry_administrator(actor)
    when = _day(day)
    holiday = Holiday.objects.select_for_update().filter(day=when).first()
    if holiday is None:
        raise NotFound("HOLIDAY_NOT_FOUND", f"{when.isoformat()} is not a holiday the registry declared.", field="day", details={"date": when.isoformat()})
    if when <= _today():
        # Delays already counted it; taking it back would rewrite them.
        raise ValidationFailed("HOLIDAY_IN_THE_PAST", "Only a holiday still to come may be removed.", field="day")
    holiday.delete()
    append_entry(kind="controls.holiday_removed", actor=actor, data={"day": when.isoformat(), "name": holiday.name})
