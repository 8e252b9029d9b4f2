"""Importing and using the library leaves the process as it found it (issue #13, item 6).

GC tuning and module hacks belong to the command line (``runner.cli``), which owns
its process; a program that imports ``runner`` keeps its own settings.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = textwrap.dedent(
    """
    import gc, json, pkgutil, importlib, sys
    gc.set_threshold(700, 10, 10)
    before = {
        "threshold": gc.get_threshold(),
        "enabled": gc.isenabled(),
        "frozen": gc.get_freeze_count(),
        "none_modules": sorted(k for k, v in sys.modules.items() if v is None),
    }
    import runner
    skip = ("runner.cli", "runner.serve", "runner.pytest_plugin", "runner.__main__")
    for info in pkgutil.walk_packages(runner.__path__, "runner."):
        if not info.name.startswith(skip):
            importlib.import_module(info.name)
    from runner.suite.load import load_suite
    from runner.plan.graph import build_plan
    build_plan(load_suite(sys.argv[1]))
    after = {
        "threshold": gc.get_threshold(),
        "enabled": gc.isenabled(),
        "frozen": gc.get_freeze_count(),
        "none_modules": sorted(k for k, v in sys.modules.items() if v is None),
    }
    print(json.dumps({"before": before, "after": after}))
    """
)


def test_library_import_and_use_change_no_process_state() -> None:
    """Importing every library module, loading and planning a suite keep GC and sys.modules."""
    out = subprocess.run(
        [sys.executable, "-c", PROBE, str(ROOT / "examples" / "shop.yaml")],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    seen = json.loads(out.stdout)
    assert seen["after"] == seen["before"]


def test_the_cli_tunes_its_own_process() -> None:
    """The CLI's start-up marks the missing optional modules it never needs (its own process)."""
    code = textwrap.dedent(
        """
        import sys
        import runner.cli.main as cli_main
        try:
            cli_main.main(["--help"])
        except SystemExit:
            pass
        print(sys.modules.get("httpx._main", "absent"))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert out.stdout.strip().splitlines()[-1] == "None"
