"""Model instances from columns already read, for the hot paths that read
rows with their own SQL (the unit-moving store and service).

This is the one place that sets a model instance's internals by hand
(`__dict__`, `_state`): `Model.from_db` runs `Model.__init__` over every
field, which costs more than the rest of a move's Python. Anything else
builds instances through the ORM."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Generic, TypeVar

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


class Columns(Generic[M]):
    """A model's concrete columns as one plain SQL select list, and the
    instance (`loaded`) from the slice of a raw row they were read into, with
    the database's value converters applied as the ORM would (SQLite keeps
    datetimes, booleans and UUIDs as text and integers). For a hot read that
    joins several models in one statement without the ORM compiling it."""

    def __init__(self, model: type[M], alias: str) -> None:
        self.model = model
        self.fields = list(model._meta.concrete_fields)
        self.attnames = [f.attname for f in self.fields]
        self.sql = ", ".join(f"{alias}.{f.column}" for f in self.fields)
        self._converters: dict[str, list[tuple[int, list[Any], Any]]] = {}

    def __len__(self) -> int:
        return len(self.fields)

    def _converters_for(self, connection: Any) -> list[tuple[int, list[Any], Any]]:
        found = self._converters.get(connection.vendor)
        if found is None:
            found = []
            for i, field in enumerate(self.fields):
                col = field.get_col(self.model._meta.db_table)
                converters = connection.ops.get_db_converters(col) + col.get_db_converters(connection)
                if converters:
                    found.append((i, converters, col))
            self._converters[connection.vendor] = found
        return found

    def build(self, values: Sequence[Any], connection: Any, related: dict[str, Any] | None = None) -> M:
        values = list(values)
        for i, converters, col in self._converters_for(connection):
            for convert in converters:
                values[i] = convert(values[i], col, connection)
        return loaded(self.model, related, **dict(zip(self.attnames, values, strict=True)))
