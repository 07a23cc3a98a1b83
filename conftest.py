"""Suite-wide fixtures. Postgres and Redis are real; only the network edge is faked in tests."""

import os
import shutil
from pathlib import Path

import pytest

# The fake LLM server fixture (`fake_llm`) for every app's tests and the golden suite.
pytest_plugins = ["testing.pytest_fixtures"]

SCREENSHOTS = Path(__file__).resolve().parent / "docs" / "screenshots"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


def pytest_sessionfinish(session, exitstatus):
    """Stop the embedded services this test run started, so the suite leaves no process behind."""
    if hasattr(session.config, "workerinput"):
        return  # an xdist worker: the controller owns the services
    from django.conf import settings

    if not settings.configured:
        return
    started = getattr(settings, "EMBEDDED_STARTED", [])
    if not started:
        return
    from django.db import connections

    connections.close_all()
    from sidekick_project import embedded

    if "redis" in started:
        embedded.stop_redis(settings.VAR_DIR)
    if "postgres" in started:
        embedded.stop_postgres(settings.VAR_DIR)


@pytest.fixture
def user(db):
    from accounts.tests.factories import UserFactory

    return UserFactory()


# A workspace with an admin and a setter, and a second workspace to prove isolation (apps' tests share them).
@pytest.fixture
def workspace(db):
    from accounts.tests.factories import WorkspaceFactory

    return WorkspaceFactory()


@pytest.fixture
def other_workspace(db):
    from accounts.tests.factories import WorkspaceFactory

    return WorkspaceFactory()


@pytest.fixture
def admin(workspace):
    from accounts.tests.factories import AdminMembershipFactory

    return AdminMembershipFactory(workspace=workspace).user


@pytest.fixture
def setter(workspace):
    from accounts.tests.factories import MembershipFactory

    return MembershipFactory(workspace=workspace).user


def queued_tasks(queue: str) -> list[tuple[str, str]]:
    """(task name, argsrepr) of every message waiting in a Celery queue of the real Redis broker.

    Tests run in parallel against one Redis, so assert on a specific job, never on a queue length.
    """
    import json

    import redis
    from django.conf import settings

    client = redis.Redis.from_url(settings.REDIS_URL)
    found = []
    for raw in client.lrange(queue, 0, -1):
        headers = json.loads(raw).get("headers", {})
        found.append((headers.get("task", ""), headers.get("argsrepr", "")))
    return found


def run_concurrently(*targets, timeout: float = 30) -> None:
    """Start one thread per target, all before joining any; fail if one is still running after `timeout`.

    A target that touches the database should close its own connection when done (`connection.close()`).
    """
    import threading

    threads = [threading.Thread(target=target) for target in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    assert not any(thread.is_alive() for thread in threads), "a thread did not finish"


# --- Browser tests (Playwright driving Debian's Chromium) -----------------------------------------

def _chromium_path():
    return os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="session")
def browser():
    executable = _chromium_path()
    if executable is None:
        pytest.skip("Chromium is not installed (make test installs Debian's chromium package)")
    # Playwright's sync API runs an event loop in this thread; the Django ORM calls the tests make
    # between browser steps are ordinary synchronous code.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


_WARMED: set[str] = set()


def _warm(url: str) -> None:
    """Load the login page once per live server before a browser test: its first request imports and
    compiles what every page needs (9–12 s on a loaded 2-core machine), longer than a test step may wait."""
    if url not in _WARMED:
        import requests

        requests.get(f"{url}/accounts/login/", timeout=120)
        _WARMED.add(url)


@pytest.fixture
def page(browser, live_server):
    _warm(live_server.url)
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 800})
    context.set_default_timeout(10_000)
    tab = context.new_page()
    yield tab
    context.close()


@pytest.fixture
def screenshot():
    """Save a full-page screenshot to docs/screenshots/<name>.png (linked from the README)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(page, name):
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)

    return take


def browser_login(page, email, password):
    page.goto("/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state("networkidle")
