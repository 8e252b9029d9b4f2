"""The web UI: the static files of ``web/`` at ``/`` and ``/config.json`` for the page.

``web/vendor/supabase.js`` is a symlink into ``web/node_modules`` (supabase-js from npm,
installed by ``scripts/install-browser.sh``), so the same folder works behind any static
file server too; ``node_modules`` itself is not served.
"""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from runner.serve.state import ServeState

# src/runner/serve/web.py -> the repository's web/ folder
DEFAULT_WEB_DIR = Path(__file__).resolve().parents[3] / "web"
SUPABASE_JS = "vendor/supabase.js"
SERVED_SUFFIXES = {".html", ".js", ".mjs", ".css", ".svg", ".png", ".ico", ".map", ".json"}
HIDDEN_PARTS = {"node_modules", "package.json", "package-lock.json"}
MEDIA_TYPES = {".js": "text/javascript", ".mjs": "text/javascript", ".map": "application/json"}


def routes(state: ServeState) -> list[BaseRoute]:
    """``/config.json`` (Supabase URL and anon key for the page) and the files of ``web/``."""
    web_dir = (state.web_dir or DEFAULT_WEB_DIR).resolve()

    async def config(request: Request) -> JSONResponse:
        # the server's own surface wins over a web/config.json meant for static hosting
        return JSONResponse(
            {"supabaseUrl": state.public_url, "anonKey": state.keys.anon_key},
            headers={"cache-control": "no-store"},
        )

    async def static(request: Request) -> Response:
        relative = request.path_params.get("path", "") or "index.html"
        if relative.endswith("/"):
            relative += "index.html"
        path = _servable(web_dir, relative)
        if path is None:
            if relative == SUPABASE_JS:
                return PlainTextResponse(
                    "supabase-js is not installed: run scripts/install-browser.sh --web-only",
                    status_code=404,
                )
            return PlainTextResponse("not found", status_code=404)
        return FileResponse(
            path,
            media_type=MEDIA_TYPES.get(path.suffix),
            headers={"cache-control": "no-cache"},
        )

    return [
        Route("/config.json", config, methods=["GET", "HEAD"]),
        Route("/", static, methods=["GET", "HEAD"]),
        Route("/{path:path}", static, methods=["GET", "HEAD"]),
    ]


def _servable(web_dir: Path, relative: str) -> Path | None:
    """The file ``relative`` names inside ``web_dir``, if it may be served."""
    parts = Path(relative).parts
    if not parts or any(p.startswith(".") or p in HIDDEN_PARTS for p in parts):
        return None
    path = (web_dir / relative).resolve()
    # symlinks (vendor/) may point into web/node_modules, never out of web/
    if not path.is_relative_to(web_dir) or path.suffix not in SERVED_SUFFIXES:
        return None
    return path if path.is_file() else None
