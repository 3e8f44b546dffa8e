"""Signed readings sent as a device would: forged, replayed, late and
implausible ones among them."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import IntegrityError, connection, transaction

from tonne import testing
from tonne.core import clock
from tonne.core.errors import PermissionDenied, ValidationFailed
from tonne.ledger import merkle
from tonne.ledger.models import LedgerEntry
from tonne.mrv import readings
from tonne.mrv.models import Anomaly, Reading
from tonne.mrv.tests.dmrv import UTC, device, hours

T0 = dt.datetime(2024, 3, 1, tzinfo=UTC)


def refused(code: str, **kw) -> None:
    with pytest.raises(ValidationFailed) as err:
        readings.submit_readings(**kw)
    assert err.value.code == code, err.value


def test_batch_accepted_committed_and_idempotent(registry) -> None:
    project = testing.registered_project(registry)
    meter = device(registry, project)
    batch = [meter.reading(i, at, "1.5") for i, at in enumerate(hours(T0, 5))]
    result = readings.submit_readings(actor=registry.developer, project=project, readings=batch)
    assert result.accepted == 5 and result.batch is not None
    rows = list(Reading.objects.filter(batch=result.batch).order_by("taken_at"))
    root = merkle.root_from_leaves([bytes.fromhex(r.leaf_hash) for r in rows]).hex()
    entry = LedgerEntry.objects.get(seq=result.batch.ledger_seq)
    assert entry.kind == "mrv.readings_accepted" and root in entry.body and result.batch.merkle_root == root
    # The device resends the same batch: nothing new, nothing refused.
    again = readings.submit_readings(actor=registry.developer, project=project, readings=batch)
    assert (again.accepted, again.already_accepted, again.batch) == (0, 5, None)
    assert Reading.objects.count() == 5


def test_refusals_have_stable_codes_and_leave_nothing(registry) -> None:
    project = testing.registered_project(registry)
    meter = device(registry, project, calibrated=("2024-01-01", "2024-06-30"))
    kw = {"actor": registry.developer, "project": project}
    readings.submit_readings(**kw, readings=[meter.reading(1, T0, "2")])
    forged = meter.reading(2, T0 + dt.timedelta(hours=1), "2")
    forged["quantity"] = "20"
    refused("READING_SIGNATURE_INVALID", **kw, readings=[forged])
    unsigned = meter.reading(3, T0 + dt.timedelta(hours=2), "2")
    unsigned["signature"] = ""
    refused("READING_UNSIGNED", **kw, readings=[unsigned])
    refused("READING_DUPLICATE", **kw, readings=[meter.reading(1, T0, "3")])  # replayed id, other content
    refused("READING_OUT_OF_ORDER", **kw, readings=[meter.reading(4, T0 - dt.timedelta(hours=1), "2")])
    refused("SOURCE_NOT_CALIBRATED", **kw, readings=[meter.reading(5, dt.datetime(2024, 7, 2, tzinfo=UTC), "2")])
    clock.freeze(dt.datetime(2024, 5, 1, tzinfo=UTC))
    refused("READING_IN_FUTURE", **kw, readings=[meter.reading(6, dt.datetime(2024, 5, 2, tzinfo=UTC), "2")])
    clock.freeze(None)
    refused("UNIT_MISMATCH", **kw, readings=[{**meter.reading(7, T0 + dt.timedelta(hours=3), "2"), "unit": "kWh"}])
    refused("SOURCE_UNKNOWN", **kw, readings=[{**meter.reading(8, T0, "2"), "source": "M-9"}])
    refused("READING_INVALID", **kw, readings=[{**meter.reading(9, T0, "2"), "quantity": "1e3"}])
    refused("READING_INVALID", **kw, readings=[{**meter.reading(9, T0, "2"), "id": "x" * 101}])
    refused("BATCH_EMPTY", **kw, readings=[])
    refused("FIELD_INVALID", **kw, readings=[meter.reading(11, T0, "2")], sent_at=dt.datetime(2024, 3, 1))
    refused("BATCH_TOO_LARGE", **kw, readings=[{}] * (readings.MAX_BATCH + 1))
    # One bad reading refuses the whole batch, every refusal listed.
    good = meter.reading(10, T0 + dt.timedelta(hours=5), "2")
    with pytest.raises(ValidationFailed) as err:
        readings.submit_readings(**kw, readings=[good, forged])
    assert err.value.details["rejected"][0]["index"] == 1
    assert Reading.objects.count() == 1
    with pytest.raises(PermissionDenied):
        readings.submit_readings(actor=registry.other_developer, project=project, readings=[good])


def test_plausibility_flags_accept_but_mark(registry) -> None:
    project = testing.registered_project(registry)
    meter = device(registry, project, max_value="10", max_change_per_hour="4", expected_interval_seconds=3600)
    batch = [meter.reading(1, T0, "2"), meter.reading(2, T0 + dt.timedelta(hours=1), "9"),
             meter.reading(3, T0 + dt.timedelta(hours=5), "9.5"), meter.reading(4, T0 + dt.timedelta(hours=6), "12")]
    result = readings.submit_readings(actor=registry.developer, project=project, readings=batch,
                                      sent_at=clock.now() - dt.timedelta(minutes=10))
    assert result.accepted == 4
    codes = sorted(Anomaly.objects.values_list("code", flat=True))
    assert codes == ["CLOCK_DRIFT", "GAP", "RANGE", "RATE_OF_CHANGE"]
    # The same device id in another project is flagged when registered.
    other = testing.registered_project(registry, name="Second site")
    device(registry, other, "M-1")
    assert Anomaly.objects.filter(code="DUPLICATE_DEVICE").count() == 1


def test_csv_upload_signed_the_same_way(registry) -> None:
    project = testing.registered_project(registry)
    meter = device(registry, project)
    content = readings.as_csv([meter.reading(i, at, "0.25", uncertainty="0.01") for i, at in enumerate(hours(T0, 3))])
    result = readings.submit_readings(actor=registry.developer, project=project, readings=readings.parse_csv(content),
                                      channel="csv")
    assert result.accepted == 3
    with pytest.raises(ValidationFailed) as err:
        readings.parse_csv(b"source,id\nM-1,1\n")
    assert err.value.code == "CSV_INVALID"
    tampered = content.replace(b"0.25", b"0.35", 1)
    refused("READING_SIGNATURE_INVALID", actor=registry.developer, project=project,
            readings=readings.parse_csv(tampered))


def test_readings_are_append_only(registry) -> None:
    project = testing.registered_project(registry)
    meter = device(registry, project)
    readings.submit_readings(actor=registry.developer, project=project, readings=[meter.reading(1, T0, "1")])
    for sql in ("UPDATE mrv_reading SET quantity = '9'", "DELETE FROM mrv_reading"):
        with pytest.raises(IntegrityError if connection.vendor == "postgresql" else Exception):
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(sql)
    assert Reading.objects.get().quantity == "1"
