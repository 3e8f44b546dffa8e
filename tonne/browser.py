"""Browser tests: Playwright driving the system's Chromium (Debian's `chromium`
package; `make test` installs it when missing). Pytest fixtures `browser`,
`page` and `phone_page`, a screenshot helper that keeps artifacts under
`test-artifacts/screenshots/`, and an axe-core accessibility check whose
script ships in the `axe-playwright-python` wheel (works offline)."""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "screenshots"
# Flags that keep Chromium off the network: it reaches only the test server.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
# How long a browser test waits for a state (a page, an element, a URL) before
# failing. Generous because the waits end as soon as the state arrives: on a
# busy machine a page may take seconds, and a test must not fail for that.
STATE_TIMEOUT_MS = 90_000
# A second-factor code is typed only with at least this long left in its
# 30-second window, so that a slow sign-in still checks it inside the window.
TOTP_MARGIN_S = 12
# axe-core rule impacts that fail a test (contrast, labels, names, roles...).
FAILING_IMPACTS = {"serious", "critical", "moderate"}


def chromium_path() -> str | None:
    explicit = os.environ.get("TONNE_CHROMIUM")
    if explicit:
        return explicit
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    executable = chromium_path()
    if executable is None:
        if os.environ.get("TONNE_REQUIRE_BROWSER") == "1":
            pytest.fail("no Chromium found, and TONNE_REQUIRE_BROWSER=1")
        pytest.skip("no Chromium found (install Debian's chromium package)")
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright runs an event loop
    from playwright.sync_api import (
        sync_playwright,  # import here: only browser tests load Playwright
    )

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


class LiveSite:
    """A test web server in a thread, serving the test database."""

    def __init__(self, url: str) -> None:
        self.url = url


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Browser tests get their database here, so that the server thread can see it.
    on_postgres = os.environ.get("DATABASE_URL", "").startswith("postgres")
    for item in items:
        if "browser" in item.keywords and item.get_closest_marker("django_db") is None:
            item.add_marker(pytest.mark.django_db(transaction=on_postgres))


@pytest.fixture
def live_site() -> Iterator[LiveSite]:
    """The registry served over HTTP for a browser test.

    On SQLite the test database lives in memory and the server thread shares
    the test's own connection, so the test runs in the usual rolled-back
    transaction (the ledger's append-only triggers would refuse the flush a
    transactional test ends with). On PostgreSQL the server has its own
    connection, so the test data is committed and truncated afterwards."""
    # import here: this module is a pytest plugin, loaded before Django is set up
    from django.contrib.staticfiles.handlers import StaticFilesHandler
    from django.db import connections
    from django.test.testcases import LiveServerThread

    shared = {
        conn.alias: conn for conn in connections.all() if conn.vendor == "sqlite" and conn.is_in_memory_db()  # type: ignore[attr-defined]
    }
    for conn in shared.values():
        conn.inc_thread_sharing()
    thread = LiveServerThread("127.0.0.1", StaticFilesHandler, connections_override=shared, port=0)
    thread.daemon = True
    thread.start()
    thread.is_ready.wait()
    if thread.error:
        raise thread.error
    try:
        yield LiveSite(f"http://127.0.0.1:{thread.port}")
    finally:
        thread.terminate()
        for conn in shared.values():
            conn.dec_thread_sharing()


def _new_page(browser: Any, **options: Any) -> Any:
    context = browser.new_context(bypass_csp=True, **options)
    context.set_default_timeout(STATE_TIMEOUT_MS)
    context.set_default_navigation_timeout(STATE_TIMEOUT_MS)
    return context.new_page()


@pytest.fixture
def page(browser: Any, live_site: LiveSite) -> Iterator[Any]:
    """A desktop-sized page; `page.base_url` is the live test server."""
    tab = _new_page(browser, viewport={"width": 1280, "height": 900}, locale="en-GB")
    tab.base_url = live_site.url
    yield tab
    tab.context.close()


@pytest.fixture
def phone_page(browser: Any, live_site: LiveSite) -> Iterator[Any]:
    """A phone-sized page (360 × 780, touch)."""
    tab = _new_page(browser, viewport={"width": 360, "height": 780}, is_mobile=True, has_touch=True, locale="en-GB")
    tab.base_url = live_site.url
    yield tab
    tab.context.close()


def totp_code(secret: str, margin: float = TOTP_MARGIN_S) -> str:
    """What the person's authenticator app shows, taken early in its window:
    when less than `margin` seconds are left, wait for the next window so the
    code stays valid while a busy server gets round to checking it (the
    registry accepts the current window only)."""
    from allauth.mfa import app_settings  # import here: this module loads before Django
    from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value

    period = app_settings.TOTP_PERIOD
    left = period - time.time() % period
    if left < margin:
        time.sleep(left + 0.05)
    return format_hotp_value(hotp_value(secret, int(time.time() // period)))


def sign_in(page: Any, username: str, password: str, *, totp_secret: str | None = None, next_url: str = "/workspace/") -> None:
    """Sign in through the real login page (and allauth's second-factor page
    with a real code when the person has one). Every wait is for a state:
    the page the form leads to, never a delay. A code refused because its
    window closed on the way (a very slow machine) is retried with a new one."""
    page.context.clear_cookies()
    page.goto(f"{page.base_url}/accounts/login/?next={next_url}")
    page.fill("#id_login", username)
    page.fill("#id_password", password)
    with page.expect_navigation():
        page.press("#id_password", "Enter")
    if totp_secret is not None:
        page.wait_for_url("**/accounts/2fa/authenticate/**")
        for _attempt in range(3):
            page.fill("input[name=code]", totp_code(totp_secret))
            with page.expect_navigation():
                page.press("input[name=code]", "Enter")
            if "/accounts/2fa/authenticate/" not in page.url:
                break
    page.wait_for_url(f"**{next_url}")


def follow(page: Any, target: Any) -> None:
    """Click a link or a form's button and wait until the page it leads to has
    loaded: what the test reads next (the page or the database) is then the
    outcome of the request, however slow the machine."""
    with page.expect_navigation():
        target.click()


def screenshot(page: Any, name: str) -> Path:
    """Keep a full-page screenshot as a test artifact (look at them)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / (re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-") + ".png")
    page.screenshot(path=str(path), full_page=True)
    return path


def accessibility_violations(page: Any) -> list[dict[str, Any]]:
    """axe-core (WCAG 2 A/AA rules) on the current page: the violations that fail."""
    from axe_playwright_python.sync_playwright import (
        Axe,  # import here: only browser tests load axe
    )

    options = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}
    results = Axe().run(page, options=options)
    return [v for v in results.response["violations"] if v.get("impact") in FAILING_IMPACTS]


def assert_accessible(page: Any) -> None:
    violations = accessibility_violations(page)
    if violations:
        lines = []
        for violation in violations:
            targets = [", ".join(node["target"]) for node in violation["nodes"][:5]]
            lines.append(f"{violation['id']} ({violation['impact']}): {violation['help']} at {targets}")
        raise AssertionError(f"accessibility violations on {page.url}:\n" + "\n".join(lines))
