"""Pure parts of the pytest plugin: test ids from node ids, and the run's final status."""

from __future__ import annotations

import re

import pytest

from runner.models import RunStatus, Status, TestResult
from runner.models.suite import TEST_ID_PATTERN
from runner.pytest_plugin._recorder import run_status
from runner.pytest_plugin._results import MAX_ID, stable_ids


def test_ids_are_identifiers_unique_and_stable() -> None:
    """Node ids become valid, distinct test ids, the same ones every session."""
    nodeids = [
        "tests/test_api.py::test_login[admin]",
        "tests/test_api.py::test_login[admin-1]",
        "tests/test_api.py::test_login[admin_1]",
        "1_tests/x.py::Test::test_a",
        "::",
        "tests/test_api.py::test_" + "x" * 300,
    ]
    ids = stable_ids(nodeids)
    assert len(set(ids.values())) == len(nodeids)
    assert all(re.match(TEST_ID_PATTERN, v) and len(v) <= MAX_ID for v in ids.values())
    assert ids["tests/test_api.py::test_login[admin]"] == "tests_test_api_py_test_login_admin"
    assert ids["1_tests/x.py::Test::test_a"] == "t_1_tests_x_py_Test_test_a"
    assert stable_ids(reversed(nodeids))["tests/test_api.py::test_" + "x" * 300] == ids[nodeids[-1]]


def _result(test_id: str, status: Status) -> TestResult:
    return TestResult(test_id=test_id, key=test_id, name=test_id, status=status)


@pytest.mark.parametrize(
    ("exitstatus", "statuses", "quarantined", "expected"),
    [
        (0, [Status.PASSED, Status.SKIPPED], frozenset(), RunStatus.PASSED),
        (1, [Status.PASSED, Status.FAILED], frozenset(), RunStatus.FAILED),
        (1, [Status.PASSED, Status.ERROR], frozenset({"t1"}), RunStatus.PASSED),
        (1, [Status.PASSED], frozenset(), RunStatus.FAILED),
        (2, [Status.PASSED], frozenset(), RunStatus.INTERRUPTED),
        (3, [Status.PASSED], frozenset(), RunStatus.ERROR),
    ],
)
def test_run_status_follows_the_engine_with_pytest_as_a_floor(
    exitstatus: int, statuses: list[Status], quarantined: frozenset[str], expected: RunStatus
) -> None:
    """Failures fail the run unless quarantined; pytest's interrupt or error wins."""
    results = [_result(f"t{i}", s) for i, s in enumerate(statuses)]
    assert run_status(exitstatus, results, quarantined) is expected
