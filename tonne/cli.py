"""The `tonne` command: Django's management commands under one name,
e.g. `tonne demo`, `tonne serve`, `tonne ledger verify`."""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tonne.settings")
    # import here: after the settings are named
    from django.core.management import execute_from_command_line

    args = list(sys.argv[1:] if argv is None else argv)
    execute_from_command_line(["tonne", *args])


if __name__ == "__main__":
    main()
