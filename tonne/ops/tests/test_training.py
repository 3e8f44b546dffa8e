"""tonne demo --training: a sandbox that says so on every page, certificate
and API answer, for good, and guides each role's first journey."""

from __future__ import annotations

import io

import pypdf
import pytest
from django.core.management import call_command
from django.test import Client

from tonne.core import clock, training
from tonne.core.models import Installation
from tonne.organisations.models import User
from tonne.units.models import Transaction

pytestmark = pytest.mark.django_db


@pytest.fixture
def sandbox():  # noqa: ANN201
    training.forget()
    out = io.StringIO()
    call_command("demo", "--training", stdout=out)
    clock.freeze(None)
    yield out.getvalue()
    training.forget()


def test_a_sandbox_says_so_everywhere_and_guides_each_role(sandbox: str) -> None:
    assert "TRAINING sandbox" in sandbox
    assert training.is_training() and Installation.objects.get().training
    public = Client()
    for path in ("/", "/projects/", "/dashboard/", "/accounts/login/"):
        response = public.get(path, follow=True)
        assert response.status_code == 200, path
        assert b'id="training-banner"' in response.content, path
        assert response.headers[training.HEADER] == "1"
    api = public.get("/api/v1/projects")
    assert api.headers[training.HEADER] == "1"
    retirement = Transaction.objects.filter(kind="retirement", status="completed").first()
    assert retirement is not None
    pdf = pypdf.PdfReader(io.BytesIO(public.get(f"/certificates/{retirement.identifier}.pdf").content))
    assert all("TRAINING" in page.extract_text() for page in pdf.pages)

    # The workspace home guides every role: one next step each, with its reason and where to go.
    for username, role in (("admin", "Registry administrator"), ("mangrove", "Project developer"),
                           ("verifier", "Verification body"), ("buyer", "Buyer or trader")):
        person = Client()
        person.force_login(User.objects.get(username=username))
        home = person.get("/workspace/").content.decode()
        assert 'id="training-steps"' in home and f"<strong>{role}:</strong>" in home, username
        assert "Why:" in home


def test_a_registry_with_data_is_never_made_a_sandbox(sandbox: str) -> None:
    Installation.objects.all().delete()
    training.forget()
    out = io.StringIO()
    call_command("demo", "--training", stdout=out)
    assert "already holds data" in out.getvalue()
    assert not training.is_training() and not Installation.objects.exists()


def test_an_ordinary_registry_shows_no_training_mark(db: None) -> None:
    training.forget()
    response = Client().get("/")
    assert b"training-banner" not in response.content and training.HEADER not in response.headers
