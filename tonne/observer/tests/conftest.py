from __future__ import annotations

from pathlib import Path

import pytest

from tonne import testing
from tonne.observer import services
from tonne.observer.services import FileReport
from tonne.organisations import services as orgs
from tonne.organisations.models import User

DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture
def root(db: None) -> User:
    return orgs.create_user(actor=None, organisation=None, username="observer-root", email="root@example.org",
                            password=testing.PASSWORD, is_root=True)


def load(actor: User, relative: str, registry: str | None = None) -> FileReport:
    with (DATA / relative).open("rb") as stream:
        return services.import_file(actor=actor, stream=stream, filename=Path(relative).name, registry=registry)
