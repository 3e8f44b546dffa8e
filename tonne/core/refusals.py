"""A refusal in the reader's words: the service's English message for English
readers (its field named by its label, not its internal name), the code's
translated message for the others (`refusal_messages`), figures formatted for
the reader's locale. The workspace and the API both speak through `text`.

A service passes the things its English message names as the error's
`details` (account, quantity, period...); the translated message is the first
of the code's `DETAILED` templates whose every value the refusal carries, else
the code's plain message. Nothing is parsed out of the English text."""

from __future__ import annotations

import re
from typing import Any

from django.utils import formats
from django.utils.translation import get_language

from tonne.core.errors import RegistryError
from tonne.core.refusal_details import DETAILED, WORDS
from tonne.core.refusal_messages import MESSAGES

_PLACEHOLDER = re.compile(r"%\((\w+)\)s")
# An internal name (sectoral_scope, unit_class) in an English message.
_INTERNAL_NAME = re.compile(r"\b[a-z]+(?:_[a-z0-9]+)+\b")


def _figure(key: str, value: Any) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(_figure(key, item) for item in value)
    if isinstance(value, bool) or not isinstance(value, int):
        if key in _WORDED and str(value) in WORDS:  # a status or kind: the reader's word for it
            return str(WORDS[str(value)])
        return str(value)
    if key in _AS_WRITTEN:
        return str(value)
    return str(formats.number_format(value, force_grouping=True))


# Values that are one of the registry's words (statuses, kinds), and integers
# that are names, not amounts (years, serials, numbers of records): never grouped.
_WORDED = frozenset({"status", "target", "account_type", "kind", "movement", "role", "state", "scope", "needed"})
_AS_WRITTEN = frozenset({"vintage", "vintages", "year", "first_year", "last_year", "serial", "serials", "report",
                         "item", "other_item", "seq", "size", "scope", "project", "block", "first_missing_serial", "line",
                         "version"})


def templates(code: str) -> tuple[Any, ...]:
    """The code's detailed templates, most specific first."""
    detailed = DETAILED.get(code)
    if detailed is None:
        return ()
    return detailed if isinstance(detailed, tuple) else (detailed,)


def placeholders(template: Any) -> set[str]:
    return set(_PLACEHOLDER.findall(str(template)))


def _translated(exc: RegistryError, label: str | None) -> str | None:
    values = {key: _figure(key, value) for key, value in exc.details.items()}
    if exc.field:
        values["field"] = str(label or exc.field)
    for template in templates(exc.code):
        if placeholders(template) <= values.keys():
            return str(template) % values
    plain = MESSAGES.get(exc.code)
    return None if plain is None else str(plain)


def text(exc: RegistryError, *, label: str | None = None) -> str:
    """The refusal for the current language; `label` names the field it concerns."""
    language = (get_language() or "en").split("-")[0]
    if language != "en":
        return _translated(exc, label) or exc.message
    message = exc.message
    if exc.field and label:
        message = re.sub(rf"\b{re.escape(exc.field)}\b", str(label), message)
    if _INTERNAL_NAME.search(message):
        return _translated(exc, label) or message
    return message


def codes() -> frozenset[str]:
    """Every code that has the reader's words."""
    return frozenset(MESSAGES)
