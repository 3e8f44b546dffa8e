"""Session lifetimes: an idle timeout and an absolute one, measured with the
registry's clock."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from tonne.core import clock

STARTED = "tonne_session_started"
SEEN = "tonne_session_seen"


def mark_session_start(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    if request is not None and hasattr(request, "session"):
        now = clock.now().timestamp()
        request.session[STARTED] = now
        request.session[SEEN] = now

