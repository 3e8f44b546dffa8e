from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass
from typing import Any

import pytest

from tonne import testing
from tonne.article6 import services as a6
from tonne.article6.models import Authorisation
from tonne.controls import services as controls
from tonne.core import clock
from tonne.organisations.models import User
from tonne.projects import services as projects
from tonne.projects.models import Project

T0 = dt.datetime(2026, 3, 3, 9, 0, tzinfo=dt.UTC)
_keys = itertools.count(1)


def key() -> str:
    return f"a6-{next(_keys)}"


@dataclass
class World:
    reg: testing.Registry
    project: Project
    approver: User

    def terms(self, **overrides: Any) -> dict[str, Any]:
        data: dict[str, Any] = {
            "identifier": "CI-A6-2026-001",
            "cooperative_approach": "CI-CH-2024",
            "first_transfer_definition": "first_international_transfer",
            "acquiring_parties": ["CH"],
            "purposes": ["ndc"],
            "quantity": 5000,
            "vintage_from": 2024,
            "vintage_to": 2025,
            "projects": [self.project.project_id],
            "entities": [str(self.reg.developer_org.uid)],
            "authorisation_date": "2026-02-01",
        }
        data.update(overrides)
        return data

    def approve(self, approval: Any) -> None:
        controls.approve(actor=self.approver, uid=approval.uid, request_hash=approval.request_hash)

    def authorise(self, **overrides: Any) -> Authorisation:
        approval = a6.request_authorisation(actor=self.reg.admin, data=self.terms(**overrides))
        self.approve(approval)
        return Authorisation.objects.get(identifier=approval.payload["identifier"])

    def letter(self) -> str:
        doc = projects.upload_document(
            actor=self.reg.admin, project=None, kind="letter", title="Letter of authorisation",
            filename="loa.pdf", content=b"%PDF-1.4 letter of authorisation", content_type="application/pdf",
        )
        return str(doc.uid)


@pytest.fixture
def world(registry: testing.Registry) -> World:
    clock.freeze(T0)
    project = testing.registered_project(registry)
    approver = testing.make_user(registry.government, f"{registry.admin.username}-approver", User.Role.APPROVER, actor=registry.root)
    return World(reg=registry, project=project, approver=approver)
