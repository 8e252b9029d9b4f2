"""The public API: a small, sorted, importable surface that stays cheap to import."""

from __future__ import annotations

import subprocess
import sys

import runner


def test_all_is_sorted_and_complete() -> None:
    """__all__ is sorted and every name in it resolves."""
    assert runner.__all__ == sorted(runner.__all__)
    for name in runner.__all__:
        assert getattr(runner, name) is not None


def test_unknown_name_is_an_attribute_error() -> None:
    """Asking for a name that is not public raises AttributeError."""
    try:
        _ = runner.not_a_thing  # type: ignore[attr-defined]
    except AttributeError as exc:
        assert "not_a_thing" in str(exc)
    else:
        raise AssertionError("expected AttributeError")


def test_importing_runner_does_not_import_heavy_modules() -> None:
    """`import runner` loads neither httpx, psycopg, jinja2 nor networkx."""
    code = (
        "import sys, runner; heavy = [m for m in ('httpx', 'psycopg', 'jinja2', 'networkx') "
        "if m in sys.modules]; print(','.join(heavy))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == ""
