"""Training mode: a sandbox registry for capacity building that says so on
every page, certificate and API answer.

An installation is a sandbox when `TONNE_TRAINING=1` is set or when its data
were built as one (`tonne demo --training` marks the database; see
`core.models.Installation`). The mark is one-way, so the answer is kept once
true and asked again now and then while false."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse

from tonne.core import clock
from tonne.core.models import Installation

RECHECK_SECONDS = 30.0
HEADER = "X-Tonne-Training"
_known: dict[str, float | bool] = {"training": False, "checked": 0.0}


def is_training() -> bool:
    if getattr(settings, "TONNE_TRAINING", False) or _known["training"]:
        return True
    if time.monotonic() - float(_known["checked"]) < RECHECK_SECONDS:
        return False
    try:
        marked = Installation.objects.filter(pk=1, training=True).exists()
    except DatabaseError:  # before the first migration: not marked
        marked = False
    _known.update(training=marked, checked=time.monotonic())
    return marked


def mark_training() -> None:
    """Make this installation's data a training sandbox, for good."""
    Installation.objects.update_or_create(pk=1, defaults={"training": True, "marked_at": clock.now()})
    _known.update(training=True)


def forget() -> None:
    """Tests only: ask the database again at the next question."""
    _known.update(training=False, checked=0.0)


def context(request: HttpRequest) -> dict[str, Any]:
    """Template context processor: every page knows whether it is a sandbox's."""
    return {"training": is_training()}


class TrainingHeaderMiddleware:
    """Every answer of a sandbox carries the header, so an API client can tell too."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if is_training():
            response[HEADER] = "1"
        return response
