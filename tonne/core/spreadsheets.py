"""Cells written to CSV or Excel files (OWASP's rule against formula
injection): a text cell that starts with =, +, -, @, a tab or a carriage
return is a formula (or becomes one) in spreadsheet programs, so it is
written with a leading apostrophe and read as text. Numbers stay numbers,
and text that is exactly a number ("-12.5") stays as it is."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def safe_cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(TRIGGERS) and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


def safe_row(row: Iterable[Any]) -> list[Any]:
    """The row as it may be written: text neutralised, every other value as it is."""
    return [safe_cell(v) for v in row]
