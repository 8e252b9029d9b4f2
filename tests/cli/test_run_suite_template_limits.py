"""``run-suite`` with templates that ask for unbounded work.

A template certain to break a limit (constant operands) stops the suite before the first
request and the first row; one that breaks it only with the run's values is that test's
``template`` error, quickly.
"""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from test_run_suite_bounds import (
    CountingTarget,
    one_error_line,
    recorded_runs,
    run_suite,
    target,
)

pytestmark = pytest.mark.db
__all__ = ["target"]  # the fixture, shared with test_run_suite_bounds


def suite(url: str, body: str) -> str:
    return (
        f"name: tpl\nbase_url: {url}\n"
        "environments:\n  local:\n    variables: {n: 1000000000}\n"
        "tests:\n"
        "  - id: a\n    request: {url: /a}\n"
        f'  - id: b\n    request:\n      url: /b\n      headers:\n        X-Big: "{body}"\n'
    )


def test_lipsum_of_a_million_is_one_line_exit_2_and_records_nothing(
    migrated_db: str, tmp_path: Path, target: CountingTarget
) -> None:
    """{{ lipsum(10**6) }}: exit 2, one file:line, no traceback, no request, no row, < 5 s."""
    path = tmp_path / "lipsum.yaml"
    path.write_text(suite(target.url, "{{ lipsum(10**6) }}"))
    proc, elapsed = run_suite(migrated_db, tmp_path, str(path))
    error = one_error_line(proc)
    assert error == (
        f"error: {path}:13: tests[1].request.headers.X-Big: test 'b': template limit: "
        "lipsum(1000000) is above the limit of 100 paragraphs"
    )
    assert elapsed < 5, f"took {elapsed:.1f} s"
    assert target.requests == 0
    assert recorded_runs(migrated_db) == 0


def test_repetition_by_a_variable_is_a_template_error_result(
    migrated_db: str, tmp_path: Path, target: CountingTarget
) -> None:
    """'x' * env.n with n = 10**9: that test is a template error (exit 1), the other passes."""
    path = tmp_path / "times.yaml"
    path.write_text(suite(target.url, "{{ 'x' * env.n }}"))
    proc, elapsed = run_suite(migrated_db, tmp_path, str(path))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    assert elapsed < 10, f"took {elapsed:.1f} s"
    assert target.requests == 1
    with psycopg.connect(migrated_db) as conn:
        rows = conn.execute(
            "select test_key, status, error_category, message from test_results order by test_key"
        ).fetchall()
    assert [row[:3] for row in rows] == [("a", "passed", None), ("b", "error", "template")]
    assert "'x' * " not in str(rows[1][3])  # the reason, not the source
    assert "a str of 1 * 1000000000 gives 1,000,000,000 characters" in str(rows[1][3])
