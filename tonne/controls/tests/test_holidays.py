"""Holidays kept by the registry administrator: every delay skips them, adding
is safe, removing only a day still to come, each change in the ledger."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client

from tonne import testing
from tonne.access.testing import stepped_up
from tonne.controls import gate, holidays, selectors
from tonne.core import clock
from tonne.core.errors import RegistryError
from tonne.ledger.models import LedgerEntry

pytestmark = pytest.mark.django_db


def refused(code: str, call) -> None:  # noqa: ANN001
    with pytest.raises(RegistryError) as exc:
        call()
    assert exc.value.code == code


def test_a_declared_holiday_lengthens_every_working_day_delay() -> None:
    reg = testing.build_registry()
    clock.freeze(dt.datetime(2031, 3, 3, 9, 0, tzinfo=dt.UTC))  # a Monday
    try:
        before = gate.calendar().noon_of_working_day(clock.now(), 1)
        assert before.date() == dt.date(2031, 3, 4)
        holidays.add_holiday(actor=reg.admin, day="2031-03-04", name="Independence day")
        assert gate.calendar().noon_of_working_day(clock.now(), 1).date() == dt.date(2031, 3, 5)
        assert "2031-03-04" in selectors.configuration()["holidays"]
        assert LedgerEntry.objects.filter(kind="controls.holiday_added").count() == 1
        holidays.remove_holiday(actor=reg.admin, day="2031-03-04")
        assert gate.calendar().noon_of_working_day(clock.now(), 1).date() == dt.date(2031, 3, 4)
        assert LedgerEntry.objects.filter(kind="controls.holiday_removed").count() == 1
    finally:
        clock.freeze(None)


def test_holidays_are_checked_and_only_the_administrator_keeps_them() -> None:
    reg = testing.build_registry()
    today = clock.now().date()
    refused("NOT_REGISTRY_ADMINISTRATOR", lambda: holidays.add_holiday(actor=reg.developer, day=today, name="x"))
    refused("HOLIDAY_DATE_INVALID", lambda: holidays.add_holiday(actor=reg.admin, day="2031-02-30", name="x"))
    refused("HOLIDAY_DATE_OUT_OF_RANGE", lambda: holidays.add_holiday(actor=reg.admin, day="1999-01-01", name="x"))
    refused("FIELD_REQUIRED", lambda: holidays.add_holiday(actor=reg.admin, day=today, name="  "))
    refused("TEXT_TOO_LONG", lambda: holidays.add_holiday(actor=reg.admin, day=today, name="x" * 101))
    holidays.add_holiday(actor=reg.admin, day=today, name="Today")
    refused("HOLIDAY_EXISTS", lambda: holidays.add_holiday(actor=reg.admin, day=today, name="Again"))
    # Delays already counted today: it stays.
    refused("HOLIDAY_IN_THE_PAST", lambda: holidays.remove_holiday(actor=reg.admin, day=today))
    refused("HOLIDAY_NOT_FOUND", lambda: holidays.remove_holiday(actor=reg.admin, day=today + dt.timedelta(days=3)))


def test_holidays_over_http() -> None:
    reg = testing.build_registry()
    admin = stepped_up(reg.admin)
    day = (clock.now().date() + dt.timedelta(days=30)).isoformat()
    created = admin.post("/api/v1/controls/holidays", {"day": day, "name": "Labour day"}, content_type="application/json")
    assert created.status_code == 201 and created.json()["day"] == day
    bad = admin.post("/api/v1/controls/holidays", {"day": "soon", "name": "x"}, content_type="application/json")
    assert bad.status_code == 422 and bad.json()["code"] == "HOLIDAY_DATE_INVALID"
    assert [h["day"] for h in admin.get("/api/v1/controls/holidays").json()] == [day]
    assert Client().get("/api/v1/controls/holidays").status_code == 401
    assert admin.delete(f"/api/v1/controls/holidays/{day}").status_code == 204
    assert admin.delete(f"/api/v1/controls/holidays/{day}").json()["code"] == "HOLIDAY_NOT_FOUND"


def test_the_administrator_keeps_holidays_in_the_workspace() -> None:
    reg = testing.build_registry()
    admin = stepped_up(reg.admin)
    page = admin.get("/workspace/reference/holidays/")
    assert page.status_code == 200
    day = clock.now().date() + dt.timedelta(days=60)
    added = admin.post("/workspace/reference/holidays/", {"day": day.isoformat(), "name": "Harvest day"}, follow=True)
    assert b"Harvest day" in added.content and f'id="holiday-{day.isoformat()}"'.encode() in added.content
    again = admin.post("/workspace/reference/holidays/", {"day": day.isoformat(), "name": "Twice"})
    assert again.status_code == 400 and b"HOLIDAY_EXISTS" in again.content
    removed = admin.post(f"/workspace/reference/holidays/{day.isoformat()}/remove/", follow=True)
    assert removed.status_code == 200 and f'id="holiday-{day.isoformat()}"'.encode() not in removed.content
    developer = stepped_up(reg.developer)
    assert developer.get("/workspace/reference/holidays/").status_code == 403
