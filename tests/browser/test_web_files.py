"""What ``serve`` serves of web/: the page, supabase-js, config.json, and nothing else."""

from __future__ import annotations

from pathlib import Path

import httpx

from support_serve import ServeHandle, serving


def test_the_page_and_supabase_js_are_served(serve: ServeHandle) -> None:
    """/ is index.html, /vendor/supabase.js the npm UMD bundle, modules as JavaScript."""
    with httpx.Client(base_url=serve.url) as client:
        page = client.get("/")
        bundle = client.get("/vendor/supabase.js")
        module = client.get("/app.js")
        config = client.get("/config.json")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert 'src="vendor/supabase.js"' in page.text
    assert bundle.status_code == 200 and "createClient" in bundle.text
    assert module.headers["content-type"].startswith("text/javascript")
    assert config.json() == {"supabaseUrl": serve.url, "anonKey": serve.anon_key}


def test_node_modules_dot_files_and_outside_paths_are_not_served(serve: ServeHandle) -> None:
    """Only the page's own files: not node_modules, package files or anything outside web/."""
    with httpx.Client(base_url=serve.url) as client:
        for path in [
            "/node_modules/@supabase/supabase-js/package.json",
            "/package.json",
            "/package-lock.json",
            "/node_modules/.runner-installed-lock.json",
            "/..%2Fpyproject.toml",
            "/%2E%2E/README.md",
            "/missing.js",
        ]:
            assert client.get(path).status_code == 404, path


def test_missing_supabase_js_says_how_to_install_it(migrated_db: str, tmp_path: Path) -> None:
    """A web/ without node_modules answers /vendor/supabase.js with the install command."""
    (tmp_path / "index.html").write_text("<!doctype html><title>x</title>")
    with serving(migrated_db, web_dir=tmp_path) as handle, httpx.Client() as client:
        answer = client.get(f"{handle.url}/vendor/supabase.js")
        page = client.get(f"{handle.url}/")
    assert answer.status_code == 404
    assert "scripts/install-browser.sh" in answer.text
    assert page.status_code == 200 and "<title>x</title>" in page.text
