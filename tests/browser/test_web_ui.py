"""The web UI (web/, served by ``serve`` at /) in headless Chromium, live over Realtime."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest
from browser_support import (
    PASSWORD,
    add_member,
    insert_run,
    record,
    result,
    seed_org,
    seed_suite_run,
    sql,
)
from playwright.sync_api import Page, WebSocketRoute, expect

from support_serve import ServeHandle

ROOT = Path(__file__).resolve().parents[2]
DOCS_SCREENSHOT = ROOT / "docs" / "img" / "web-ui.png"
expect.set_options(timeout=20_000)


def open_ui(open_page: Callable[..., Page], serve: ServeHandle, **options: Any) -> Page:
    """The UI in a fresh browser context, ready (config read, client made)."""
    page = open_page(**options)
    page.goto(f"{serve.url}/")
    page.wait_for_selector("body[data-ready='true']")
    return page


def new_user(page: Page, email: str) -> str:
    """Sign a user up through supabase-js on the UI's page (no session kept); their id."""
    user_id: str = page.evaluate(
        """async ([email, password]) => {
            const config = await (await fetch('config.json')).json();
            const client = supabase.createClient(config.supabaseUrl, config.anonKey,
                { auth: { persistSession: false, storageKey: 'sign-up' } });
            const { data, error } = await client.auth.signUp({ email, password });
            if (error) throw new Error(error.message);
            return data.user.id;
        }""",
        [email, PASSWORD],
    )
    return user_id


def sign_in(page: Page, email: str) -> None:
    """Sign in through the page's form."""
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("form button[type=submit]")
    expect(page.locator("#who")).to_have_text(email)
    # the first view after sign-in is drawn (so a navigation after it is not overtaken)
    expect(page.get_by_role("navigation", name="Organisations and projects")).to_be_visible()


def test_a_user_sees_only_their_organisations(
    open_page: Callable[..., Page], serve: ServeHandle
) -> None:
    """Sign-in lists the user's organisations and projects; another org's run stays unseen."""
    page = open_ui(open_page, serve)
    alice = new_user(page, "alice@example.com")
    mallory = new_user(page, "mallory@example.com")
    _, project_a = seed_org(serve.db_url, alice, "acme")
    seed_org(serve.db_url, mallory, "evil")
    run_a = insert_run(serve.db_url, project_a)

    sign_in(page, "alice@example.com")
    nav = page.get_by_role("navigation", name="Organisations and projects")
    expect(nav).to_contain_text("Acme")
    expect(nav).not_to_contain_text("Evil")
    expect(page.locator(f"#runs tr[data-run='{run_a}']")).to_be_visible()

    other = open_ui(open_page, serve)
    sign_in(other, "mallory@example.com")
    expect(other.get_by_role("navigation", name="Organisations and projects")).to_contain_text(
        "Evil"
    )
    expect(other.locator("nav.orgs")).not_to_contain_text("Acme")
    other.goto(f"{serve.url}/#/run/{run_a}")
    expect(other.locator("#error")).to_contain_text("may not see it")
    expect(other.locator("#results tbody tr")).to_have_count(0)


def test_the_example_suite_streams_into_the_page(
    open_page: Callable[..., Page], serve: ServeHandle, tmp_path: Path, artifacts_dir: Path
) -> None:
    """A run of examples/shop.yaml appears live; its graph, results, detail, context, trends."""
    page = open_ui(open_page, serve, viewport={"width": 1440, "height": 1000})
    alice = new_user(page, "alice@example.com")
    # the service role records into organisation "local" (made by the migrations); Alice
    # is made its owner, project included
    with psycopg.connect(serve.db_url, autocommit=True) as conn:
        conn.execute(
            "insert into organization_members (organization_id, user_id, role)"
            " select id, %s, 'owner' from organizations where slug = 'local'",
            (alice,),
        )
        conn.execute(
            "insert into projects (organization_id, name, slug)"
            " select id, 'shop-demo', 'shop-demo' from organizations where slug = 'local'"
        )
    sign_in(page, "alice@example.com")
    expect(page.locator("#runs-title")).to_contain_text("shop-demo")
    page.evaluate("window.notReloaded = true")

    env = {**os.environ, "RUNNER_DATABASE_URL": serve.db_url, "RUNNER_DATA_DIR": str(tmp_path)}
    env.pop("RUNNER_STORE", None)
    finished: dict[str, Any] = {}
    worker = threading.Thread(
        target=lambda: finished.update(
            run=subprocess.run(
                [sys.executable, "-m", "runner", "run-suite", "examples/shop.yaml"],
                capture_output=True,
                text=True,
                env=env,
                cwd=ROOT,
                timeout=300,
                check=False,
            )
        )
    )
    worker.start()
    row = page.locator("#runs tr[data-run]")
    expect(row).to_have_count(1)  # appeared without a reload
    expect(row.locator(".badge")).to_have_text("passed")  # and finished, live
    worker.join(300)
    assert finished["run"].returncode == 0, finished["run"].stdout + finished["run"].stderr
    assert page.evaluate("window.notReloaded") is True

    row.locator("a").click()
    nodes = page.locator("#graph g.node")
    expect(nodes.first).to_be_visible()
    total = nodes.count()
    assert total > 10
    expect(page.locator("#graph g.node[data-status='passed']")).to_have_count(total)
    expect(page.locator("#results tbody tr[data-status='passed']")).not_to_have_count(0)
    page.locator("#graph g.node[data-test-key='login']").click()
    expect(page.locator("#detail-title")).to_have_text("Result: login")
    expect(page.locator("#checks tbody tr")).not_to_have_count(0)
    expect(page.locator("#attempts tbody tr")).to_have_count(1)
    expect(page.locator("#request-snapshot")).to_contain_text("auth/login")
    expect(page.locator("#request-snapshot")).not_to_contain_text("demo-password")
    expect(page.locator("#ctx-captured dt")).not_to_have_count(0)
    page.screenshot(path=artifacts_dir / "live-run.png", full_page=True)
    if os.environ.get("RUNNER_UPDATE_SCREENSHOT"):
        DOCS_SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=DOCS_SCREENSHOT, full_page=False)

    _earlier_days_of_metrics(serve.db_url)
    page.locator("a", has_text="All runs").click()
    page.locator("a", has_text="Trends").click()
    expect(page.locator("#charts figure")).not_to_have_count(0)
    expect(page.locator("#charts figure[data-test='login'] polyline.p95")).to_have_count(1)
    page.screenshot(path=artifacts_dir / "trends.png", full_page=True)


def _earlier_days_of_metrics(db_url: str) -> None:
    """A week of history before today's run, as earlier runs would have left it."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(
            """insert into performance_metrics
                   (organization_id, project_id, test_case_id, environment_id, metric_date,
                    total_runs, successful_runs, p50_response_ms, p95_response_ms,
                    p99_response_ms, success_rate)
               select m.organization_id, m.project_id, m.test_case_id, m.environment_id,
                      m.metric_date - d, 10, 10 - (d % 3), m.p50_response_ms,
                      m.p95_response_ms * (1 + 0.15 * d), m.p99_response_ms * (1.2 + 0.2 * d),
                      (10 - (d % 3)) / 10.0
                 from performance_metrics as m, generate_series(1, 6) as d"""
        )


def _run_page(open_page: Callable[..., Page], serve: ServeHandle, **options: Any) -> Any:
    """Alice, signed in, looking at a fresh run of a four-test suite with dependencies."""
    page = open_ui(open_page, serve, **options)
    alice = new_user(page, "alice@example.com")
    _, project = seed_org(serve.db_url, alice, "acme")
    seeded = seed_suite_run(
        serve.db_url,
        project,
        ["login", "catalog", "add_to_cart", "checkout"],
        [
            ("login", "catalog"),
            ("login", "add_to_cart"),
            ("catalog", "add_to_cart"),
            ("add_to_cart", "checkout"),
        ],
    )
    sign_in(page, "alice@example.com")
    page.goto(f"{serve.url}/#/run/{seeded.run_id}")
    expect(page.locator("#graph g.node")).to_have_count(4)
    # joined to run:<id>, and the run read: its seq is known
    expect(page.locator("body")).to_have_attribute("data-live", "true")
    expect(page.locator("body")).to_have_attribute("data-last-seq", "1")
    return page, seeded


def node(page: Page, key: str) -> Any:
    """The graph node of one test."""
    return page.locator(f"#graph g.node[data-test-key='{key}']")


def test_nodes_change_colour_and_the_context_grows_live(
    open_page: Callable[..., Page], serve: ServeHandle
) -> None:
    """Events turn nodes running/passed/failed/skipped, fill the table and the context panel."""
    page, run = _run_page(open_page, serve)
    expect(page.locator("#graph path.edge")).to_have_count(4)
    expect(node(page, "login")).to_have_attribute("data-status", "queued")

    sql(serve.db_url, "select public.tests_started(%s, array['login'])", (run.run_id,))
    expect(node(page, "login")).to_have_attribute("data-status", "running")
    record(serve.db_url, run.run_id, result("login"))
    expect(node(page, "login")).to_have_attribute("data-status", "passed")
    expect(page.locator("#results tbody tr[data-test-key='login']")).to_be_visible()

    sql(
        serve.db_url,
        "select public.merge_captured_data(%s, 'login', '{\"user_id\": 42}'::jsonb)",
        (run.run_id,),
    )
    sql(
        serve.db_url,
        "select public.set_shared_auth_token(%s, 'access_token', '[REDACTED]')",
        (run.run_id,),
    )
    expect(page.locator("#ctx-captured dt[data-captured='login.user_id']")).to_be_visible()
    expect(page.locator("#ctx-captured")).to_contain_text("from login")
    expect(page.locator("#ctx-tokens li[data-token='access_token']")).to_contain_text("redacted")

    record(serve.db_url, run.run_id, result("catalog", "failed"))
    record(serve.db_url, run.run_id, result("add_to_cart", "skipped"))
    expect(node(page, "catalog")).to_have_attribute("data-status", "failed")
    expect(node(page, "add_to_cart")).to_have_attribute("data-status", "skipped")
    expect(page.locator("#progress-text")).to_contain_text("3 of 4 tests done")

    node(page, "catalog").focus()
    page.keyboard.press("Enter")  # keyboard: a focused node opens its result
    expect(page.locator("#detail-title")).to_have_text("Result: catalog")
    expect(page.locator("#checks td.fail")).to_have_count(1)
    expect(page.locator("#request-snapshot")).to_contain_text("[REDACTED]")


def test_a_dropped_connection_shows_offline_then_fills_in_what_was_missed(
    open_page: Callable[..., Page], serve: ServeHandle
) -> None:
    """While the socket is down the banner shows; back online the missed results appear."""
    sockets: list[WebSocketRoute] = []
    state = {"down": False}

    def route(ws: WebSocketRoute) -> None:
        if state["down"]:
            ws.close()
            return
        ws.connect_to_server()
        sockets.append(ws)

    page = open_ui(open_page, serve)
    page.route_web_socket(lambda url: "/realtime/v1/websocket" in url, route)
    page.reload()
    page.wait_for_selector("body[data-ready='true']")
    page, run = _continue_run_page(page, serve)

    state["down"] = True
    for ws in sockets:
        ws.close()
    expect(page.locator("#offline")).to_be_visible()
    record(serve.db_url, run.run_id, result("login"), result("catalog", "failed"))
    state["down"] = False
    expect(page.locator("#offline")).to_be_hidden()
    expect(node(page, "login")).to_have_attribute("data-status", "passed")
    expect(node(page, "catalog")).to_have_attribute("data-status", "failed")
    expect(page.locator("#results tbody tr")).to_have_count(2)


def test_a_gap_in_seq_makes_the_page_re_read(
    open_page: Callable[..., Page], serve: ServeHandle
) -> None:
    """An event lost on the way is noticed by its successor's seq and re-read from the tables."""
    dropped: list[str] = []

    def route(ws: WebSocketRoute) -> None:
        server = ws.connect_to_server()

        def from_server(message: str | bytes) -> None:
            text = message if isinstance(message, str) else message.decode("utf-8", "replace")
            if "test_completed" in text and '"login"' in text and not dropped:
                dropped.append(text)  # lose login's event: the page must notice
                return
            ws.send(message)

        server.on_message(from_server)

    page = open_ui(open_page, serve)
    page.route_web_socket(lambda url: "/realtime/v1/websocket" in url, route)
    page.reload()
    page.wait_for_selector("body[data-ready='true']")
    page, run = _continue_run_page(page, serve)
    record(serve.db_url, run.run_id, result("login"))
    record(serve.db_url, run.run_id, result("catalog"))
    expect(node(page, "catalog")).to_have_attribute("data-status", "passed")
    expect(node(page, "login")).to_have_attribute("data-status", "passed")
    assert dropped, "the login event never went through the socket"


def _continue_run_page(page: Page, serve: ServeHandle) -> Any:
    """As _run_page, on a page already open (with its websocket routed)."""
    alice = new_user(page, "alice@example.com")
    _, project = seed_org(serve.db_url, alice, "acme")
    seeded = seed_suite_run(
        serve.db_url,
        project,
        ["login", "catalog", "add_to_cart", "checkout"],
        [("login", "catalog"), ("catalog", "add_to_cart"), ("add_to_cart", "checkout")],
    )
    sign_in(page, "alice@example.com")
    page.goto(f"{serve.url}/#/run/{seeded.run_id}")
    expect(page.locator("#graph g.node")).to_have_count(4)
    expect(page.locator("body")).to_have_attribute("data-live", "true")
    expect(page.locator("body")).to_have_attribute("data-last-seq", "1")
    expect(page.locator("#offline")).to_be_hidden()
    return page, seeded


@pytest.mark.parametrize("width", [390, 1280])
def test_the_run_page_fits_phone_and_laptop_widths(
    open_page: Callable[..., Page], serve: ServeHandle, width: int, artifacts_dir: Path
) -> None:
    """The run page has no sideways scrolling at phone and laptop widths."""
    page, run = _run_page(open_page, serve, viewport={"width": width, "height": 900})
    record(serve.db_url, run.run_id, result("login"))
    expect(node(page, "login")).to_have_attribute("data-status", "passed")
    overflow = page.evaluate("document.scrollingElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
    page.screenshot(path=artifacts_dir / f"run-{width}.png", full_page=True)


def test_a_guest_sees_runs_but_no_context(
    open_page: Callable[..., Page], serve: ServeHandle
) -> None:
    """RLS, not the page, hides what a guest may not read: results yes, the context no."""
    page, run = _run_page(open_page, serve)
    guest = new_user(page, "guest@example.com")
    with psycopg.connect(serve.db_url) as conn:
        row = conn.execute(
            "select organization_id from projects where id = %s", (run.project_id,)
        ).fetchone()
    assert row is not None
    add_member(serve.db_url, str(row[0]), guest, "guest")
    sql(serve.db_url, "select public.merge_captured_data(%s, 'login', '{\"a\": 1}')", (run.run_id,))
    record(serve.db_url, run.run_id, result("login"))
    other = open_ui(open_page, serve)
    sign_in(other, "guest@example.com")
    other.goto(f"{serve.url}/#/run/{run.run_id}")
    expect(other.locator("#results tbody tr[data-test-key='login']")).to_be_visible()
    expect(other.locator("#context")).to_contain_text("not visible to your role")


def test_the_page_works_from_another_origin_with_a_config_file(
    open_page: Callable[..., Page], serve: ServeHandle, tmp_path: Path
) -> None:
    """Static files elsewhere plus web/config.json (as for hosted Supabase) reach serve by CORS."""
    import functools
    import shutil
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    site = tmp_path / "site"
    shutil.copytree(ROOT / "web", site, ignore=shutil.ignore_patterns("node_modules", "package*"))
    (site / "vendor" / "supabase.js").unlink()
    shutil.copy(ROOT / "web" / "vendor" / "supabase.js", site / "vendor" / "supabase.js")
    (site / "config.json").write_text(
        f'{{"supabaseUrl": "{serve.url}", "anonKey": "{serve.anon_key}"}}'
    )

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

    handler = functools.partial(Quiet, directory=str(site))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        page = open_page()
        page.goto(f"http://127.0.0.1:{httpd.server_address[1]}/")
        page.wait_for_selector("body[data-ready='true']")
        alice = new_user(page, "alice@example.com")
        _, project = seed_org(serve.db_url, alice, "acme")
        run = insert_run(serve.db_url, project)
        sign_in(page, "alice@example.com")
        expect(page.locator(f"#runs tr[data-run='{run}']")).to_be_visible()
    finally:
        httpd.shutdown()
        httpd.server_close()
