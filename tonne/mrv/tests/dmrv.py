"""Builders for digital MRV tests: a project with a calibrated, keyed source."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from tonne import testing
from tonne.mrv import readings, sources
from tonne.mrv.models import DataSource
from tonne.projects import services as projects
from tonne.projects.models import Project

UTC = dt.UTC


def public_hex(key: Ed25519PrivateKey) -> str:
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()


@dataclass
class Device:
    source: DataSource
    key: Ed25519PrivateKey

    def reading(self, n: int, at: dt.datetime, quantity: str, **kw: object) -> dict:
        return readings.sign_reading(self.key, source=self.source.identifier, reading_id=f"{self.source.identifier}-{n}",
                                     taken_at=at, quantity=quantity, unit=self.source.unit, **kw)  # type: ignore[arg-type]


def device(reg: testing.Registry, project: Project, identifier: str = "M-1", *, measurement: str = "electricity_export",
           unit: str = "MWh", calibrated: tuple[str, str] = ("2020-01-01", "2030-12-31"), **extra: object) -> Device:
    key = Ed25519PrivateKey.generate()
    source = sources.register_source(actor=reg.developer, project=project, data={
        "identifier": identifier, "kind": "meter", "measurement": measurement, "unit": unit,
        "location": "Substation A", "public_key": public_hex(key), **extra})
    doc = projects.upload_document(actor=reg.developer, project=project, kind="other", title=f"Calibration {identifier}",
                                   filename=f"cal-{identifier}.pdf", content=f"calibration {identifier}".encode())
    sources.record_calibration(actor=reg.developer, source=source, document=str(doc.uid), valid_from=calibrated[0],
                               valid_until=calibrated[1])
    return Device(source, key)


def hours(start: dt.datetime, n: int) -> list[dt.datetime]:
    return [start + dt.timedelta(hours=i) for i in range(n)]
