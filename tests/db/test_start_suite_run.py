"""public.start_suite_run: one call syncs a suite and starts a run, with the caller's rights."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psycopg
import pytest
from helpers import acting_as, seed

from runner.plan.graph import build_plan
from runner.store.base import RunInfo
from runner.store.sync import StartedRun, run_request
from runner.suite.load import load_suite

pytestmark = pytest.mark.db
SHOP = Path(__file__).resolve().parents[2] / "examples" / "shop.yaml"


def shop_request(organization: str = "acme", environment: str | None = None) -> dict[str, Any]:
    plan = build_plan(load_suite(SHOP))
    info = RunInfo(
        suite=plan.suite,
        environment=environment,
        order=tuple(plan.order),
        edges=tuple((d, t, data["type"]) for d, t, data in plan.graph.edges(data=True)),
        rows={t: r for t in plan.order if (r := plan.rows(t)) is not None},
    )
    return run_request(info, organization=organization, project="Shop")


def call(url: str, request: dict[str, Any]) -> StartedRun:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "select public.start_suite_run(%s::jsonb)", (json.dumps(request),)
        ).fetchone()
    assert row is not None
    return StartedRun.from_json(row[0])


def count(url: str, sql: str, params: Any = None) -> Any:
    with psycopg.connect(url) as conn:
        row = conn.execute(sql, params).fetchone()
    assert row is not None
    return row[0]


def test_first_call_syncs_suite_and_creates_run_and_context(migrated_db: str) -> None:
    """The organisation, project, suite, every case and the run with its context exist."""
    request = shop_request()
    started = call(migrated_db, request)
    cases = {c["stable_id"] for c in request["cases"]}
    assert set(started.case_ids) == cases
    assert count(
        migrated_db, "select count(*) from test_cases where suite_id = %s", (started.suite_id,)
    ) == len(cases)
    assert (
        count(migrated_db, "select status from test_runs where id = %s", (started.run_id,))
        == "running"
    )
    assert (
        count(migrated_db, "select total_tests from test_runs where id = %s", (started.run_id,))
        == request["run"]["total_tests"]
    )
    assert (
        count(
            migrated_db,
            "select test_order from test_execution_context where run_id = %s",
            (started.run_id,),
        )
        == request["order"]
    )
    assert (
        count(
            migrated_db,
            "select o.slug from organizations o join projects p "
            "on p.organization_id = o.id where p.id = %s",
            (started.project_id,),
        )
        == "acme"
    )


def test_unchanged_suite_is_not_rewritten(migrated_db: str) -> None:
    """A second run of the same suite writes no new case row versions (xmin unchanged)."""
    request = shop_request()
    first = call(migrated_db, request)
    versions = (
        "select string_agg(xmin::text, ',' order by stable_id) from test_cases where suite_id = %s"
    )
    before = count(migrated_db, versions, (first.suite_id,))
    second = call(migrated_db, request)
    assert second.suite_id == first.suite_id and second.run_id != first.run_id
    assert count(migrated_db, versions, (first.suite_id,)) == before


def test_removed_case_stays_for_its_runs_and_leaves_the_current_version(migrated_db: str) -> None:
    """A test dropped from the suite keeps its row (a run used it) but not its edges or version."""
    request = shop_request()
    first = call(migrated_db, request)
    dropped = request["cases"][-1]["stable_id"]
    request["cases"] = request["cases"][:-1]
    request["edges"] = [e for e in request["edges"] if dropped not in (e["dep"], e["test"])]
    second = call(migrated_db, request)
    case_id = first.case_ids[dropped]
    assert count(migrated_db, "select count(*) from test_cases where id = %s", (case_id,)) == 1
    assert dropped not in second.case_ids
    assert second.suite_version_id != first.suite_version_id
    current = "select current_version_id::text from test_suites where id = %s"
    assert count(migrated_db, current, (first.suite_id,)) == second.suite_version_id
    in_version = "select %s::uuid = any (case_ids) from suite_versions where id = %s"
    assert count(migrated_db, in_version, (case_id, first.suite_version_id)) is True
    assert count(migrated_db, in_version, (case_id, second.suite_version_id)) is False
    edges = (
        "select count(*) from test_dependencies "
        "where test_case_id = %s or depends_on_test_case_id = %s"
    )
    assert count(migrated_db, edges, (case_id, case_id)) == 0


def test_malformed_request_is_refused(migrated_db: str) -> None:
    """Without a suite slug the call fails with invalid_parameter_value and writes nothing."""
    with psycopg.connect(migrated_db) as conn, pytest.raises(psycopg.errors.InvalidParameterValue):
        conn.execute("select public.start_suite_run(%s::jsonb)", (json.dumps({"suite": {}}),))
    assert count(migrated_db, "select count(*) from test_runs") == 0


def test_outsider_cannot_start_a_run_in_another_organisation(migrated_db: str) -> None:
    """Another organisation's slug is refused like a taken slug (0033), and nothing is written."""
    world = seed(migrated_db)
    slug = count(migrated_db, "select slug from organizations where id = %s", (world.org_a,))
    request = shop_request(organization=slug)
    runs_before = count(migrated_db, "select count(*) from test_runs")
    with (
        pytest.raises(psycopg.errors.CheckViolation),
        acting_as(migrated_db, world, "outsider") as cur,
    ):
        cur.execute("select public.start_suite_run(%s::jsonb)", (json.dumps(request),))
    assert count(migrated_db, "select count(*) from test_runs") == runs_before


EDGES = (
    "select t.stable_id, d.stable_id, td.dependency_type from test_dependencies td "
    "join test_cases t on t.id = td.test_case_id "
    "join test_cases d on d.id = td.depends_on_test_case_id "
    "where td.suite_id = %s order by 1, 2"
)


def _stored_edges(url: str, suite_id: str) -> list[tuple[str, str, str]]:
    with psycopg.connect(url) as conn:
        return [tuple(r) for r in conn.execute(EDGES, (suite_id,)).fetchall()]  # type: ignore[misc]


def test_edges_are_stored_between_the_right_tests_and_follow_the_suite(migrated_db: str) -> None:
    """Every edge lands between its two tests; a changed type is updated, unknown ends ignored."""
    request = shop_request()
    assert request["edges"], "the example suite has dependencies"
    first = call(migrated_db, request)
    want = sorted((e["test"], e["dep"], e["type"]) for e in request["edges"])
    assert _stored_edges(migrated_db, first.suite_id) == want
    changed = request["edges"][0]
    other_type = "data" if changed["type"] != "data" else "order"
    request["edges"] = [
        {**changed, "type": other_type},
        *request["edges"][1:],
        {"test": changed["test"], "dep": "no_such_test", "type": "order"},
    ]
    call(migrated_db, request)
    want = sorted(
        (e["test"], e["dep"], e["type"]) for e in request["edges"] if e["dep"] != "no_such_test"
    )
    assert _stored_edges(migrated_db, first.suite_id) == want
