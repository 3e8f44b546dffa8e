"""Model instances from columns already read, for the hot paths that read
rows with their own SQL (the unit-moving store and service).

This is the one place that sets a model instance's internals by hand
(`__dict__`, `_state`): `Model.from_db` runs `Model.__init__` over every
field, which costs more than the rest of a move's Python. Anything else
builds instances through the ORM."""

from __future__ import annotations

from typing import Any, TypeVar

from django.db import DEFAULT_DB_ALIAS
from django.db.models import Model
from django.db.models.base import ModelState

M = TypeVar("M", bound=Model)


def loaded(model: type[M], related: dict[str, Any] | None = None, /, **columns: Any) -> M:
    """An instance as the ORM's `from_db` leaves it, from its columns by
    attribute name (`organisation_id`, not `organisation`): fields not given
    are deferred (read on first access), `related` fills the cache of
    foreign keys already at hand. Skips `Model.__init__`'s per-field work,
    which costs more than the rest of a unit move's Python."""
    instance = model.__new__(model)
    instance.__dict__.update(columns)
    state = ModelState()
    state.adding = False
    state.db = DEFAULT_DB_ALIAS
    if related:
        state.fields_cache = dict(related)
    instance._state = state
    return instance
