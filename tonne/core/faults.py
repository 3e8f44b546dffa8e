"""Named pause points inside services, used by tests and crash drills to
widen race windows (e.g. between reading a balance and writing the move, or
between a move's COMMIT and its durability barrier). No-ops in production.

In-process, a test installs a hook (`install`). Across processes (a drill
driving `tonne serve`), TONNE_FAULTS_DIR names a directory; at a point NAME
the process looks for:
- `NAME.pause`: it writes `NAME.reached` and waits until `NAME.pause` is gone;
- `NAME.kill`: it kills itself at once (SIGKILL, as `kill -9` would).
Points:
- `move.after_read` (units): balance read, move not yet written;
- `pipeline.committed` (core.pgpipeline): a move's COMMIT is done, its
  durability barrier not yet sent (visible to others, not yet durable);
- `pipeline.durable`: barrier done, the answer not yet built;
- `answer.durable` (core.durability): an answer's reads are durable, it has not left;
- `cadt.sync.staged`, `cadt.sync.committed` (cadt)."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

_hooks: dict[str, Callable[[], None]] = {}
_dir = Path(os.environ["TONNE_FAULTS_DIR"]) if os.environ.get("TONNE_FAULTS_DIR") else None
# Checked on hot paths before anything else: False unless a drill armed a point.
ARMED = _dir is not None


def point(name: str) -> None:
    hook = _hooks.get(name)
    if hook is not None:
        hook()
    elif _dir is not None:
        _from_files(_dir, name)


def install(name: str, hook: Callable[[], None] | None) -> None:
    global ARMED
    if hook is None:
        _hooks.pop(name, None)
    else:
        _hooks[name] = hook
    ARMED = bool(_hooks) or _dir is not None


def _from_files(directory: Path, name: str) -> None:
    if (directory / f"{name}.kill").exists():
        os.kill(os.getpid(), signal.SIGKILL)
    pause = directory / f"{name}.pause"
    if pause.exists():
        (directory / f"{name}.reached").write_text(str(os.getpid()))
        while pause.exists():
            time.sleep(0.005)
