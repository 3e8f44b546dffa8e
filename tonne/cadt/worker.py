"""CAD Trust background work for `tonne worker`: push sync to CAD Trust nodes, then webhooks."""

from __future__ import annotations

import logging
from collections.abc import Callable

log = logging.getLogger("tonne.worker")


def run_once(say: Callable[[str], None] = log.info) -> None:
    from tonne.cadt import sync, webhooks

    sync.deliver_due(say)
    webhooks.deliver_due(say)
