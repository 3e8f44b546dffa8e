"""What the projects API shows from an app above it.

A project's page in the API lists its issuances with their serial numbers,
which are the units app's to write out; projects sit below units and cannot
import them. This module names that read, with its type; the ops app
installs it at start-up (tonne/ops/handlers.py lists who handles what). A read
asked before installation is an error, never an empty list."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ImproperlyConfigured

from tonne.projects.models import Project


@dataclass(frozen=True)
class ProjectHandlers:
    # units: the project's issuances, each as the API's IssuanceOut shows it.
    issuances_of: Callable[[Project], list[dict[str, Any]]]


_installed: ProjectHandlers | None = None


def install(handlers: ProjectHandlers) -> None:
    global _installed
    _installed = handlers


def handlers() -> ProjectHandlers:
    if _installed is None:
        raise ImproperlyConfigured("Project handlers are not installed: add tonne.ops to INSTALLED_APPS.")
    return _installed
