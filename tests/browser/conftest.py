"""Real headless Chromium (Debian's) driven by Playwright, against a real ``serve``.

``scripts/install-browser.sh`` installs /usr/bin/chromium and web/node_modules; the
Playwright driver comes with the Python package (``playwright install`` is never run).
Without a browser the tests skip, except under CI, where that is a failure.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, sync_playwright

from support_serve import ServeHandle, serving

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[2]
SUPABASE_JS = ROOT / "web" / "node_modules" / "@supabase" / "supabase-js" / "dist" / "umd"
# the closed network here makes Chromium stall on its background services without these
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = ROOT / ".runner" / "artifacts" / "browser"


def _missing() -> str | None:
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing: run scripts/install-browser.sh"
    if not (SUPABASE_JS / "supabase.js").exists():
        return "web/node_modules is missing: run scripts/install-browser.sh"
    return None


# per module, not per session: while Playwright's sync API is active its event loop is
# the thread's running loop, which would break the async tests of later modules
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Headless Chromium, launched once per module (each test gets its own context)."""
    missing = _missing()
    if missing:
        if os.environ.get("CI"):
            pytest.fail(missing)
        pytest.skip(missing)
    with sync_playwright() as playwright:
        # Playwright gives every launch a fresh temporary profile (--user-data-dir)
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def serve(migrated_db: str) -> Iterator[ServeHandle]:
    """A running ``serve`` (web UI included) in front of a fresh migrated database."""
    with serving(migrated_db) as handle:
        yield handle


class PageLog:
    """What the page printed and threw, to explain a failure."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def console(self, message: ConsoleMessage) -> None:
        self.lines.append(f"console.{message.type}: {message.text}")

    def error(self, error: Any) -> None:
        self.lines.append(f"pageerror: {error}")


def new_page(browser: Browser, request: pytest.FixtureRequest, **options: Any) -> Page:
    """A page in a fresh context (own storage), closed at the end of the test."""
    context = browser.new_context(**options)
    context.set_default_timeout(15_000)
    page = context.new_page()
    log = PageLog()
    page.on("console", log.console)
    page.on("pageerror", log.error)

    def finish() -> None:
        failed = getattr(request.node, "rep_call", None)
        if failed is not None and failed.failed and log.lines:
            print("\n".join(["-- browser log --", *log.lines[-80:]]))
        context.close()

    request.addfinalizer(finish)
    return page


@pytest.fixture
def open_page(browser: Browser, request: pytest.FixtureRequest) -> Any:
    """Factory: another page in its own context (a second user, a second tab)."""

    def make(**options: Any) -> Page:
        return new_page(browser, request, **options)

    return make


SETUP_JS = """
async () => {
    const config = await (await fetch('/config.json')).json();
    window.config = config;
    // a client of its own storage, so several users can live in one page
    window.makeClient = (storageKey, options = {}) => supabase.createClient(
        config.supabaseUrl, config.anonKey,
        {...options, auth: {storageKey, ...(options.auth || {})}});
    // the first status a channel reports: {status, error}; never a hang
    window.subscribeStatus = (channel, ms = 10000) => new Promise((resolve) => {
        const timer = setTimeout(() => resolve({status: 'NO_STATUS', error: null}), ms);
        channel.subscribe((status, err) => {
            clearTimeout(timer);
            resolve({status, error: err ? String(err.message || err) : null});
        });
    });
    // events as they arrive, and a wait for the first one matching a predicate
    window.inbox = () => {
        const items = [], waiters = [];
        return {
            items,
            push(item) { items.push(item); waiters.splice(0).forEach((w) => w()); },
            until(predicate, ms = 10000) {
                return new Promise((resolve, reject) => {
                    const timer = setTimeout(() => reject(new Error(
                        'timed out; received ' + JSON.stringify(items))), ms);
                    const check = () => {
                        const hit = items.find(predicate);
                        if (hit !== undefined) { clearTimeout(timer); resolve(hit); }
                        else waiters.push(check);
                    };
                    check();
                });
            },
        };
    };
    return config;
}
"""


@pytest.fixture
def sb_page(browser: Browser, serve: ServeHandle, request: pytest.FixtureRequest) -> Page:
    """A page on serve's origin with supabase-js (``window.supabase``) and ``window.config``."""
    page = new_page(browser, request)
    page.goto(f"{serve.url}/config.json")
    page.add_script_tag(url=f"{serve.url}/vendor/supabase.js")
    page.evaluate(SETUP_JS)
    return page


@pytest.fixture
def artifacts_dir(request: pytest.FixtureRequest) -> Path:
    """Where a test keeps its screenshots (``.runner/artifacts/browser/<test>``)."""
    path = ARTIFACTS / request.node.name
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Keep the call-phase report on the item, so fixtures can print the browser log."""
    report = yield
    if report.when == "call":
        item.rep_call = report  # type: ignore[attr-defined]
    return report
