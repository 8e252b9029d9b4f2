"""Every error category the runner produces is one the database accepts (0030, 0033)."""

from __future__ import annotations

import psycopg
import pytest

from runner.models import ErrorCategory

pytestmark = pytest.mark.db

CONSTRAINTS = (
    "test_results_error_category_check",
    "test_result_details_error_category_check",
    "failure_analysis_error_category_check",
)


def test_every_error_category_passes_the_check_constraints(migrated_db: str) -> None:
    """Each ErrorCategory value (``request`` included) is listed by all three checks."""
    with psycopg.connect(migrated_db) as conn:
        rows = conn.execute(
            "select conname, pg_get_constraintdef(oid) from pg_constraint where conname = any(%s)",
            (list(CONSTRAINTS),),
        ).fetchall()
    assert {name for name, _ in rows} == set(CONSTRAINTS)
    for name, definition in rows:
        missing = [c.value for c in ErrorCategory if f"'{c.value}'" not in definition]
        assert missing == [], (name, missing)
