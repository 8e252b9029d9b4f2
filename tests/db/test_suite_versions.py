"""Suite identity and versions: ids share history, other files are apart, retention prunes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psycopg
import pytest
from retention_data import connection, run_retention

from runner.models import Suite
from runner.plan.graph import build_plan
from runner.retention import LocalArchive, restore
from runner.retention.restore import locate_local
from runner.store.base import RunInfo
from runner.store.sync import StartedRun, run_request, source_key, suite_identity
from runner.suite.load import loaded_from_suite

pytestmark = pytest.mark.db


def _suite(path: Path, tests: dict[str, str], *, suite_id: str | None = None) -> Suite:
    data: dict[str, Any] = {
        "name": "Shop",
        "base_url": "http://127.0.0.1:9",
        "tests": [{"id": t, "request": {"url": url}} for t, url in tests.items()],
    }
    if suite_id:
        data["id"] = suite_id
    return Suite.model_validate(data).model_copy(update={"source_path": str(path)})


def _start(url: str, suite: Suite) -> StartedRun:
    plan = build_plan(loaded_from_suite(suite))
    info = RunInfo(suite=plan.suite, environment=None, order=tuple(plan.order))
    request = run_request(info, organization="acme", project="shop")
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "select public.start_suite_run(%s::jsonb)", (json.dumps(request),)
        ).fetchone()
    assert row is not None
    return StartedRun.from_json(row[0])


def _one(url: str, sql: str, params: Any = None) -> Any:
    with psycopg.connect(url) as conn:
        row = conn.execute(sql, params).fetchone()
    assert row is not None
    return row[0]


def test_same_id_in_two_files_shares_one_suite_and_each_test_history(
    migrated_db: str, tmp_path: Path
) -> None:
    """Two files declaring `id: shop` are one suite; a stable id keeps its one case row."""
    a = _start(migrated_db, _suite(tmp_path / "a.yaml", {"t1": "/a", "t2": "/a"}, suite_id="shop"))
    b = _start(migrated_db, _suite(tmp_path / "b.yaml", {"t1": "/b", "t3": "/b"}, suite_id="shop"))
    assert a.suite_id == b.suite_id and a.separate_from is None and b.separate_from is None
    assert a.case_ids["t1"] == b.case_ids["t1"]  # history continuous across versions
    assert a.suite_version_id != b.suite_version_id
    # t2 is not in b's version, but a's run uses it: it stays
    assert _one(migrated_db, "select count(*) from test_cases where id = %s", (a.case_ids["t2"],))
    assert (
        _one(
            migrated_db,
            "select count(distinct suite_version_id) from test_runs where suite_id = %s",
            (a.suite_id,),
        )
        == 2
    )


def test_another_file_with_the_same_name_is_a_separate_suite_and_says_so(
    migrated_db: str, tmp_path: Path
) -> None:
    """Without ids, b.yaml named like a.yaml gets its own suite and a note naming both files."""
    first = _suite(tmp_path / "a.yaml", {"t1": "/a"})
    a = _start(migrated_db, first)
    again = _start(migrated_db, _suite(tmp_path / "a.yaml", {"t1": "/changed"}))
    assert again.suite_id == a.suite_id and again.note(first) is None
    other = _suite(tmp_path / "b.yaml", {"t1": "/b"})
    b = _start(migrated_db, other)
    assert b.suite_id != a.suite_id
    assert b.suite_slug == suite_identity(other)["alternate_slug"]
    assert b.separate_from == source_key(str(tmp_path / "a.yaml"))
    note = b.note(other)
    assert note is not None
    assert "recorded as a separate suite" in note and "`id: shop`" in note and "b.yaml" in note
    # the same other file again lands in its own suite, told again
    assert _start(migrated_db, other).suite_id == b.suite_id


def test_source_key_is_relative_to_the_git_work_tree(tmp_path: Path) -> None:
    """A file inside a git work tree is keyed by its path there, so checkouts agree."""
    for root in (tmp_path / "ci1", tmp_path / "ci2"):
        (root / ".git").mkdir(parents=True)
        (root / "suites").mkdir()
    one = source_key(str(tmp_path / "ci1" / "suites" / "shop.yaml"))
    assert one == source_key(str(tmp_path / "ci2" / "suites" / "shop.yaml")) == "suites/shop.yaml"


def test_stored_suite_gives_the_current_version_and_its_id(
    migrated_db: str, tmp_path: Path
) -> None:
    """Run by name, a suite has the tests of its latest version and records into itself."""
    _start(migrated_db, _suite(tmp_path / "a.yaml", {"t1": "/a", "t2": "/a"}))
    latest = _start(migrated_db, _suite(tmp_path / "a.yaml", {"t1": "/a", "t3": "/a"}))
    found = _one(migrated_db, "select public.stored_suite('Shop', null)")
    assert [t["id"] for t in found["tests"]] == ["t1", "t3"]
    assert found["suite"]["settings"]["id"] == "shop"
    data = {**found["suite"]["settings"], "name": found["suite"]["name"], "tests": found["tests"]}
    again = _start(migrated_db, Suite.model_validate(data))
    assert again.suite_id == latest.suite_id and again.separate_from is None


async def test_retention_prunes_versions_no_run_uses_then_cases_no_version_has(
    migrated_db: str, tmp_path: Path
) -> None:
    """Once the first run is gone, its version and its own case go; restore brings them back."""
    url = migrated_db
    first = _start(url, _suite(tmp_path / "a.yaml", {"t1": "/a", "t2": "/a"}))
    second = _start(url, _suite(tmp_path / "a.yaml", {"t1": "/a", "t3": "/a"}))
    unused = "select count(*) from private.retention_unused_versions(now())"
    assert _one(url, unused) == 0  # each version is current or used by a run
    with psycopg.connect(url) as conn:
        conn.execute("delete from test_runs where id = %s", (first.run_id,))
    report = await run_retention(url, LocalArchive(tmp_path / "archive"))
    assert report.phases["versions"].deleted == 1
    assert report.phases["cases"].deleted == 1
    case = "select count(*) from test_cases where id = %s"
    assert _one(url, case, (first.case_ids["t2"],)) == 0
    version = "select count(*) from suite_versions where id = %s"
    assert _one(url, version, (first.suite_version_id,)) == 0
    # the current version and every case it has stay
    assert _one(url, case, (second.case_ids["t3"],)) == 1
    assert _one(url, case, (first.case_ids["t1"],)) == 1
    root, entries = locate_local(tmp_path / "archive")
    async with connection(url) as conn:
        restored = await restore(conn, root, entries)
    assert restored.inserted.get("test_cases") == 1
    assert restored.inserted.get("suite_versions") == 1
    assert _one(url, case, (first.case_ids["t2"],)) == 1


def test_a_name_shared_by_two_suites_is_refused_and_their_slugs_are_not(
    migrated_db: str, tmp_path: Path
) -> None:
    """Run by a name two files share, the stored suite is ambiguous; by slug it is not."""
    from runner.errors import ConfigError
    from runner.store.catalog import suite_from_stored

    _start(migrated_db, _suite(tmp_path / "a.yaml", {"t1": "/a"}))
    other = _start(migrated_db, _suite(tmp_path / "b.yaml", {"t1": "/b"}))
    found = _one(migrated_db, "select public.stored_suite('Shop', null)")
    with pytest.raises(ConfigError, match="stored as several suites"):
        suite_from_stored("Shop", found)
    assert other.suite_slug is not None
    by_slug = _one(migrated_db, "select public.stored_suite(%s, null)", (other.suite_slug,))
    loaded = suite_from_stored(other.suite_slug, by_slug)
    assert loaded.suite.id == other.suite_slug
    assert loaded.suite.tests[0].request.url == "/b"
