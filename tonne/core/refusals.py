"""A refusal in the reader's words: the service's English message for English
readers (its field named by its label, not its internal name), the code's
translated message for the others (`refusal_messages`), figures formatted for
the reader's locale. The workspace and the API both speak through `text`."""

from __future__ import annotations

import re
from typing import Any

from django.utils import formats
from django.utils.translation import get_language

from tonne.core.errors import RegistryError
from tonne.core.refusal_messages import DETAILED, MESSAGES

_PLACEHOLDER = re.compile(r"%\((\w+)\)s")
# An internal name (sectoral_scope, unit_class) in an English message.
_INTERNAL_NAME = re.compile(r"\b[a-z]+(?:_[a-z0-9]+)+\b")


def _figure(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int):
        return str(value)
    return str(formats.number_format(value, force_grouping=True))


def _translated(exc: RegistryError, label: str | None) -> str | None:
    values = {key: _figure(value) for key, value in exc.details.items()}
    if exc.field:
        values["field"] = str(label or exc.field)
    detailed = DETAILED.get(exc.code)
    if detailed is not None and set(_PLACEHOLDER.findall(str(detailed))) <= values.keys():
        return str(detailed) % values
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
