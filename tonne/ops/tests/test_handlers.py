"""The handler tables through which lower apps ask the apps above them are
filled at start-up, and asking an empty one is an error, not a silent skip."""

import dataclasses

import pytest
from django.core.exceptions import ImproperlyConfigured

from tonne.controls.gate import MoveControls
from tonne.organisations import handlers as organisation_handlers
from tonne.projects import handlers as project_handlers
from tonne.units import controls_port

TABLES = (organisation_handlers, project_handlers)


@pytest.mark.parametrize("table", TABLES, ids=lambda t: t.__name__)
def test_every_handler_is_installed_at_start_up(table) -> None:  # noqa: ANN001
    installed = table.handlers()
    for field in dataclasses.fields(installed):
        assert callable(getattr(installed, field.name)), field.name


@pytest.mark.parametrize("table", TABLES, ids=lambda t: t.__name__)
def test_asking_before_installation_is_an_error(table, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setattr(table, "_installed", None)
    with pytest.raises(ImproperlyConfigured):
        table.handlers()


def test_the_controls_join_the_move_path_at_start_up() -> None:
    assert isinstance(controls_port.controls(), MoveControls)


def test_a_move_asked_before_the_controls_are_installed_is_an_error(monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setattr(controls_port, "_installed", None)
    with pytest.raises(ImproperlyConfigured, match="controls are not installed"):
        controls_port.controls()
