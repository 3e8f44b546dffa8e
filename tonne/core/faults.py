"""Named pause points inside services, used by tests to widen race windows
(e.g. between reading a balance and writing the move). No-ops in production."""

from __future__ import annotations

from collections.abc import Callable

_hooks: dict[str, Callable[[], None]] = {}


def point(name: str) -> None:
    hook = _hooks.get(name)
    if hook is not None:
        hook()


def install(name: str, hook: Callable[[], None] | None) -> None:
    if hook is None:
        _hooks.pop(name, None)
    else:
        _hooks[name] = hook
