"""What the browser tests share: Debian's Chromium driven by Playwright (no browser is
downloaded), pages for separate people, the platform behind its front, and helpers.
Loaded as a plugin by conftest.py, so its fixtures serve every test module.

Set SCREENSHOTS_DIR to keep the screenshots the tests take (docs/screenshots).
"""

import os
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect, sync_playwright

from devtools.factories import PASSWORD
from tests.servers import (
    collected_static,
    port_of,
    start_asgi_server,
    start_front,
    start_server,
    stop,
)

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
REPORTS = Path(__file__).resolve().parent.parent / "reports"
# How long a page may take to show what somebody else did: a deadline against a hang, not a
# speed (tests assert no timings; bench.live measures the push). It is shorter than the
# streams' heartbeat (EVENTS_HEARTBEAT_SECONDS, 20), so a page that missed a push and
# would only catch up when its stream starts again still fails.
LIVE_MS = 10_000
# The same for the other expectations: the suite runs in two processes on two cores.
expect.set_options(timeout=10_000)


@pytest.fixture(scope="session")
def browser():
    # Playwright's sync API keeps an event loop running in this thread, which makes Django
    # refuse ORM calls here (the test's own data set-up and teardown) as "async context".
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def new_page(browser, request, settings):
    """Pages in separate contexts (separate people); screenshots of each kept on failure.
    Options of the context (timezone_id, permissions...) pass through."""
    # The live server speaks plain HTTP; production cookies are Secure.
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False
    contexts = []

    def make(width: int = 1100, height: int = 800, locale: str = "en-US", **options) -> Page:
        # The locale is the browser's language: its Accept-Language.
        context = browser.new_context(
            viewport={"width": width, "height": height}, locale=locale, **options
        )
        contexts.append(context)
        return context.new_page()

    yield make
    report = getattr(request.node, "rep_call", None)
    for n, context in enumerate(contexts):
        if report is not None and report.failed:
            REPORTS.mkdir(exist_ok=True)
            for page in context.pages:
                page.screenshot(path=REPORTS / f"{request.node.name}-{n}.png", full_page=True)
        context.close()


def serve_platform(directory: Path, media_root: Path):
    """nginx with deploy/'s template in front of gunicorn (pages, the API) and the ASGI
    server (event streams), as `make start` and compose serve them; yields the front's URL.
    Every form a test posts (sign-up, login, send) passes the CSRF origin check through the
    front, on a port other than 80."""
    # The session's media folder, the worker's too (set before a test's own settings are).
    web, web_url = start_server(
        directory / "web.log", STATIC_ROOT=collected_static(), MEDIA_ROOT=str(media_root)
    )
    events, events_url = start_asgi_server(directory / "events.log", DB_CONN_MAX_AGE="0")
    front, port = start_front(directory / "front", port_of(web_url), port_of(events_url))
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        for process in (front, events, web):
            stop(process)


@pytest.fixture
def platform_url(tmp_path, celery_worker, media_root):
    """The platform for one test, with the session's real worker and relay."""
    yield from serve_platform(tmp_path, media_root)


@pytest.fixture(scope="module")
def module_platform(tmp_path_factory, django_db_setup, media_root):
    """The platform's servers for all the tests of a module (each test asks for the worker
    with `celery_worker`)."""
    yield from serve_platform(tmp_path_factory.mktemp("platform"), media_root)


def sign_up(page: Page, base: str, username: str) -> None:
    page.goto(f"{base}/accounts/signup/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password confirmation").fill(PASSWORD)
    page.get_by_role("button", name="Sign up").click()
    expect(page.get_by_role("heading", name="Inbox")).to_be_visible()


def log_in(page: Page, base: str, username: str, *, refused: bool = False) -> None:
    """In whatever language the page speaks; then wait until signed in (or refused)."""
    page.goto(f"{base}/accounts/login/")
    page.locator("#id_username").fill(username)
    page.locator("#id_password").fill(PASSWORD)
    page.locator("main button[type=submit]").click()
    if not refused:
        expect(page.locator("header .who")).to_have_text(username)


def screenshot(page: Page, name: str, *, full_page: bool = True) -> None:
    if directory := os.environ.get("SCREENSHOTS_DIR"):
        page.screenshot(path=Path(directory) / f"{name}.png", full_page=full_page)


def serious_violations(page: Page) -> list[str]:
    """axe-core's serious and critical violations on the page, one line each."""
    results = Axe().run(page).response
    return [
        f"{v['id']} ({v['impact']}): {v['help']}: {[n['target'] for n in v['nodes']][:3]}"
        for v in results["violations"]
        if v["impact"] in ("serious", "critical")
    ]
