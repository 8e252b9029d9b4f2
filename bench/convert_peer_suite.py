"""Convert the peer benchmark's generated suite into a runner suite (untimed prep).

    python bench/convert_peer_suite.py SUITE_JSON OUT_DIR [--base-url URL]

``SUITE_JSON`` is the ``suite.json`` that ``shared/bench/gen.py`` writes
(``{"n": N, "tests": 1 + 4N, "base_url": ...}``). The peer suite is fully
determined by N and the base URL (see gen.py's docstring), so this writes the
same requests and assertions in the runner's format to ``OUT_DIR/suite.json``:

* ``login``: POST /auth/login, status 200, capture ``access_token`` as the
  shared token ``user``;
* for each chain ``chain-NNNN``: create (status 201, capture ``id``) -> get
  (status 200, ``$.id`` equals the captured id) -> update (status 200,
  ``$.updated`` is true) -> delete (status 204).

The dependencies come from the templates (``captured_data.<test>.id``) plus the
token edge to ``login``, exactly the graph the peers express by hand.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

AUTH = {"Authorization": "Bearer {{ shared_auth_tokens.user }}"}


def chain_name(i: int) -> str:
    return f"chain-{i:04d}"


def build_suite(n: int, base_url: str) -> dict[str, Any]:
    """The runner suite (as plain data) for N chains against ``base_url``."""
    tests: list[dict[str, Any]] = [
        {
            "id": "login",
            "request": {
                "method": "POST",
                "url": "/auth/login",
                "json": {"username": "bench", "password": "bench"},
            },
            "captures": {"access_token": {"path": "$.access_token", "as_token": "user"}},
            "checks": {"status": 200},
        }
    ]
    for i in range(1, n + 1):
        c = chain_name(i).replace("-", "_")
        create, get, update, delete = (f"{c}_{s}" for s in ("create", "get", "update", "delete"))
        item_url = f"/items/{{{{ captured_data.{create}.id }}}}"
        tests += [
            {
                "id": create,
                "depends_on": [{"test": "login", "type": "token"}],
                "request": {
                    "method": "POST",
                    "url": "/items",
                    "headers": AUTH,
                    "json": {"name": "x"},
                },
                "captures": {"id": "$.id"},
                "checks": {"status": 201},
            },
            {
                "id": get,
                "request": {"method": "GET", "url": item_url, "headers": AUTH},
                "checks": {
                    "status": 200,
                    "json": [{"path": "$.id", "value": f"{{{{ captured_data.{create}.id }}}}"}],
                },
            },
            {
                "id": update,
                "depends_on": [get],
                "request": {
                    "method": "PUT",
                    "url": item_url,
                    "headers": AUTH,
                    "json": {"name": "y"},
                },
                "checks": {"status": 200, "json": [{"path": "$.updated", "value": True}]},
            },
            {
                "id": delete,
                "depends_on": [update],
                "request": {"method": "DELETE", "url": item_url, "headers": AUTH},
                "checks": {"status": 204},
            },
        ]
    return {"name": f"peerbench-n{n}", "base_url": base_url, "tests": tests}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("suite_json", type=Path)
    ap.add_argument("out_dir", type=Path)
    ap.add_argument("--base-url", default=None, help="default: the one in suite.json")
    a = ap.parse_args(argv)
    meta = json.loads(a.suite_json.read_text())
    suite = build_suite(int(meta["n"]), a.base_url or str(meta["base_url"]))
    assert len(suite["tests"]) == int(meta.get("tests", 1 + 4 * int(meta["n"])))
    a.out_dir.mkdir(parents=True, exist_ok=True)
    (a.out_dir / "suite.json").write_text(json.dumps(suite, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
