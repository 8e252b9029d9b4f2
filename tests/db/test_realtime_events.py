"""Run events broadcast through realtime.send, and who may listen (sql/migrations/0012).

A real run of the example suite (plus a failing, an erroring and a blocked test) is
recorded by ``PostgresStore`` into a fresh database; the tests read what it left in
``realtime.messages``. The policy tests act as users exactly as the Realtime server
does: role, JWT claims and ``realtime.topic`` set for the transaction.
"""

from __future__ import annotations

import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from helpers import World, acting_as, seed, set_identity
from psycopg import errors

from runner.models import RunStatus
from runner.suite.load import load_suite_text
from support import EXAMPLES, load_example, record_example_run

pytestmark = pytest.mark.db

shop_api = load_example("shop_api")

RESULT_EVENTS = {"passed": "test_completed", "failed": "test_failed", "error": "test_failed"}
RESULT_EVENTS["skipped"] = "test_skipped"
EVERY_TYPE = {
    "run_started",
    "test_started",
    "test_completed",
    "test_failed",
    "test_skipped",
    "context_updated",
    "run_completed",
}
ENVELOPE = {"type", "run_id", "seq", "at", "id"}

# the example suite, plus one test of each unhappy kind
EXTRA_TESTS = """
  - id: rt_wrong_status
    name: Expects a teapot
    request: {url: /health}
    checks: {status: 418}
  - id: rt_missing_capture
    name: Captures what is not there
    request: {url: /health}
    captures: {nothing: $.no_such_field}
  - id: rt_blocked
    name: Blocked by the teapot
    request: {url: /health}
    depends_on: [rt_wrong_status]
"""


def _rows(url: str, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql, params).fetchall()


def _events(url: str, topic: str) -> list[dict[str, Any]]:
    """Payloads broadcast on ``topic``, in seq order (as the superuser)."""
    return [
        r[0]
        for r in _rows(
            url,
            "select payload from realtime.messages where topic = %s "
            "order by (payload ->> 'seq')::bigint, inserted_at",
            (topic,),
        )
    ]


async def _record_shop_run(url: str, tmp_path: Path) -> tuple[Any, list[str]]:
    """Record the extended example suite; returns the run result and the tokens issued."""
    text = (EXAMPLES / "shop.yaml").read_text(encoding="utf-8") + EXTRA_TESTS
    loaded = load_suite_text(text, file=str(EXAMPLES / "shop.yaml"), base_dir=EXAMPLES)
    app = shop_api.create_app()
    transport = httpx.ASGITransport(app=app)
    result, store = await record_example_run(url, tmp_path / "spill", transport, suite=loaded)
    assert store.writer is not None and store.writer.spilled == 0
    shop = app.state.shop
    return result, [*shop.tokens, *shop.refresh]


@pytest.fixture
async def recorded(migrated_db: str, tmp_path: Path) -> tuple[str, Any, list[str]]:
    """A database holding one recorded run of the extended example suite."""
    result, tokens = await _record_shop_run(migrated_db, tmp_path)
    assert result.status == RunStatus.FAILED
    return migrated_db, result, tokens


async def test_every_event_type_with_gapless_seq(recorded: tuple[str, Any, list[str]]) -> None:
    """A recorded run broadcasts every event type on run:<id>, seq 1..n, completed last."""
    url, result, _ = recorded
    events = _events(url, f"run:{result.run_id}")
    assert {e["type"] for e in events} == EVERY_TYPE
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert all(e["run_id"] == result.run_id and set(e) >= ENVELOPE for e in events)
    assert events[0]["type"] == "run_started" and events[-1]["type"] == "run_completed"
    ((last_seq, status, counts),) = _rows(
        url,
        "select event_seq, status, array[total_tests, completed_tests, passed_tests, "
        "failed_tests, errored_tests, skipped_tests] from test_runs where id = %s",
        (result.run_id,),
    )
    assert last_seq == len(events)
    done = events[-1]
    assert done["status"] == status == "failed"
    assert [
        done[k]
        for k in (
            "total_tests",
            "completed_tests",
            "passed_tests",
            "failed_tests",
            "errored_tests",
            "skipped_tests",
        )
    ] == counts
    # the raw rows agree: one message per event, all private broadcasts named by type
    raw = _rows(
        url,
        "select event, private, extension, payload ->> 'type' from realtime.messages "
        "where topic = %s",
        (f"run:{result.run_id}",),
    )
    assert len(raw) == len(events)
    assert all(r[0] == r[3] and r[1] is True and r[2] == "broadcast" for r in raw)


async def test_results_map_to_events_after_their_start(
    recorded: tuple[str, Any, list[str]],
) -> None:
    """One result event per row, typed by status, after that test's test_started."""
    url, result, _ = recorded
    events = _events(url, f"run:{result.run_id}")
    started = {e["test_key"]: e["seq"] for e in events if e["type"] == "test_started"}
    finished = [e for e in events if e["type"] in {"test_completed", "test_failed", "test_skipped"}]
    stored = {
        r[0]: r[1:]
        for r in _rows(
            url,
            "select test_key, id::text, status, error_category, status_code "
            "from test_results where run_id = %s",
            (result.run_id,),
        )
    }
    assert sorted(e["test_key"] for e in finished) == sorted(stored)
    for e in finished:
        result_id, status, category, status_code = stored[e["test_key"]]
        assert e["type"] == RESULT_EVENTS[status]
        assert (e["result_id"], e["status"], e["error_category"], e["status_code"]) == (
            result_id,
            status,
            category,
            status_code,
        )
        assert {"name", "response_time_ms", "message"} <= set(e)
        assert not {"request", "response", "request_snapshot", "response_snapshot"} & set(e)
        if status != "skipped":
            assert started[e["test_key"]] < e["seq"], e["test_key"]
    statuses = {k: v[1] for k, v in stored.items()}
    assert statuses["rt_wrong_status"] == "failed"
    assert statuses["rt_missing_capture"] == "error"
    assert statuses["rt_blocked"] == "skipped"
    assert "rt_blocked" not in started  # never started: blocked
    assert set(started) == {k for k, s in statuses.items() if s != "skipped"}
    ((running,),) = _rows(
        url, "select running_tests from test_execution_context where run_id = %s", (result.run_id,)
    )
    assert running == []


async def test_context_updates_name_keys_never_values(
    recorded: tuple[str, Any, list[str]],
) -> None:
    """context_updated lists changed key names; no captured value and no token appears."""
    url, result, tokens = recorded
    events = [e for e in _events(url, f"run:{result.run_id}") if e["type"] == "context_updated"]
    assert events
    captured: dict[str, set[str]] = {}
    token_names: set[str] = set()
    for e in events:
        assert set(e) == ENVELOPE | {"captured", "variables", "tokens", "removed"}
        for key, names in e["captured"].items():
            assert all(isinstance(n, str) for n in names)
            captured.setdefault(key, set()).update(names)
        token_names.update(e["tokens"])
    login = next(r for r in result.results if r.test_id == "login")
    assert captured["login"] == set(login.captured)
    assert token_names  # the suite publishes its login token
    dump = json.dumps(events)
    assert tokens, "the demo API issued no token"
    assert not [t for t in tokens if t in dump]
    assert "[REDACTED]" not in dump and '"enc"' not in dump
    values = [v for r in result.results for v in r.captured.values() if isinstance(v, str)]
    assert values and not [v for v in values if len(v) > 3 and v in dump]


async def test_project_topic_gets_lifecycle_only(recorded: tuple[str, Any, list[str]]) -> None:
    """project:<id> carries run_started and run_completed of the run, nothing else."""
    url, result, _ = recorded
    ((project_id,),) = _rows(
        url, "select project_id from test_runs where id = %s", (result.run_id,)
    )
    events = _events(url, f"project:{project_id}")
    assert [(e["type"], e["seq"], e["run_id"]) for e in events] == [
        ("run_started", 1, result.run_id),
        ("run_completed", len(_events(url, f"run:{result.run_id}")), result.run_id),
    ]


# ------------------------------------------------------------------ the policy


def _listen(url: str, world: World, actor: str, topic: str) -> list[str]:
    """Event types ``actor`` can read on ``topic``, as the Realtime server would check."""
    with acting_as(url, world, actor) as cur:
        cur.execute("select set_config('realtime.topic', %s, true)", (topic,))
        cur.execute("select event from realtime.messages where topic = %s", (topic,))
        return [r[0] for r in cur.fetchall()]


def test_members_listen_outsiders_do_not(migrated_db: str) -> None:
    """Every role of the run's organisation reads run:<id>; outsiders and anon read nothing."""
    world = seed(migrated_db)
    topic = f"run:{world.run}"
    assert _listen(migrated_db, world, "service_role", topic)
    for actor in ("guest", "member", "editor", "admin", "owner"):
        assert sorted(set(_listen(migrated_db, world, actor, topic))) == [
            "run_started",
            "test_completed",
            "test_failed",
        ], actor
    assert _listen(migrated_db, world, "outsider", topic) == []
    assert _listen(migrated_db, world, "anon", topic) == []
    project = f"project:{world.project}"
    assert set(_listen(migrated_db, world, "guest", project)) == {"run_started", "run_completed"}
    assert _listen(migrated_db, world, "outsider", project) == []


def test_policy_only_shows_the_topic_being_joined(migrated_db: str) -> None:
    """With realtime.topic set to one run, a member sees no message of another topic."""
    world = seed(migrated_db)
    with acting_as(migrated_db, world, "member") as cur:
        cur.execute("select set_config('realtime.topic', %s, true)", (f"run:{world.run}",))
        cur.execute(
            "select count(*) from realtime.messages where topic <> %s", (f"run:{world.run}",)
        )
        assert cur.fetchone() == (0,)


@pytest.mark.parametrize(
    "topic",
    [
        "run:not-a-uuid",
        "run:",
        "run",
        "",
        "project:1234",
        "run:{uuid}x",
        "Run:{uuid}",
        "run:{uuid}:extra",
        "runs:{uuid}",
        "run:00000000-0000-0000-0000-000000000000",
    ],
)
def test_malformed_or_unknown_topics_give_no_rows_and_no_error(
    migrated_db: str, topic: str
) -> None:
    """A topic that is not run:/project:<uuid> of one's organisation reads nothing, silently."""
    world = seed(migrated_db)
    topic = topic.replace("{uuid}", str(world.run))
    with acting_as(migrated_db, world, "owner") as cur:
        cur.execute("select set_config('realtime.topic', %s, true)", (topic,))
        cur.execute("select count(*) from realtime.messages")
        assert cur.fetchone() == (0,)
        cur.execute("select private.can_listen(%s)", (topic,))
        assert cur.fetchone() == (False,)


def test_members_may_track_presence_but_not_broadcast(migrated_db: str) -> None:
    """Members insert presence rows on their run's topic; broadcasts and outsiders are refused."""
    world = seed(migrated_db)
    topic = f"run:{world.run}"
    insert = (
        "insert into realtime.messages (topic, extension, event, payload, private) "
        "values (%s, %s, 'probe', '{}', true)"
    )
    with psycopg.connect(migrated_db) as conn:
        for actor, extension, allowed in [
            ("guest", "presence", True),
            ("member", "presence", True),
            ("member", "broadcast", False),
            ("service_role", "broadcast", True),
            ("outsider", "presence", False),
        ]:
            with conn.transaction(force_rollback=True), conn.cursor() as cur:
                set_identity(cur, world, actor)
                cur.execute("select set_config('realtime.topic', %s, true)", (topic,))
                try:
                    cur.execute(insert, (topic, extension))
                    ok = True
                except errors.InsufficientPrivilege:
                    ok = False
            assert ok is allowed, (actor, extension)


# --------------------------------------------------------- functions and triggers


def test_tests_started_emits_once_per_key_and_tracks_running(migrated_db: str) -> None:
    """tests_started sends one test_started per distinct key and records them as running."""
    world = seed(migrated_db)
    before = len(_events(migrated_db, f"run:{world.run}"))
    with acting_as(migrated_db, world, "editor") as cur:
        cur.execute(
            "select public.tests_started(%s, %s)", (world.run, ["catalog", "a[0]", "catalog"])
        )
        assert cur.fetchone() == (2,)
    events = _events(migrated_db, f"run:{world.run}")
    assert [(e["type"], e.get("test_key"), e["seq"]) for e in events[before:]] == [
        ("test_started", "catalog", before + 1),
        ("test_started", "a[0]", before + 2),
    ]
    ((running,),) = _rows(
        migrated_db,
        "select running_tests from test_execution_context where run_id = %s",
        (world.run,),
    )
    assert running == ["catalog", "a[0]"]
    with psycopg.connect(migrated_db) as conn:
        conn.execute(
            "select public.record_results(%s, %s)",
            (world.run, json.dumps([{"test_key": "catalog", "name": "C", "status": "skipped"}])),
        )
    ((running,),) = _rows(
        migrated_db,
        "select running_tests from test_execution_context where run_id = %s",
        (world.run,),
    )
    assert running == ["a[0]"]


def test_tests_started_is_checked_like_the_other_run_functions(migrated_db: str) -> None:
    """Members and outsiders get 42501, bad keys 22023; a finished run gets no events."""
    world = seed(migrated_db)
    for actor in ("member", "outsider", "guest"):
        with (
            pytest.raises(errors.InsufficientPrivilege),
            acting_as(migrated_db, world, actor) as cur,
        ):
            cur.execute("select public.tests_started(%s, %s)", (world.run, ["x"]))
    for keys in (["ok", None], [""], ["k" * 501]):
        with pytest.raises(errors.InvalidParameterValue), psycopg.connect(migrated_db) as conn:
            conn.execute("select public.tests_started(%s, %s::text[])", (world.run, keys))
    finished = f"run:{world.finished_run}"
    before = _events(migrated_db, finished)
    with psycopg.connect(migrated_db) as conn:
        assert conn.execute(
            "select public.tests_started(%s, %s)", (world.finished_run, ["late"])
        ).fetchone() == (0,)
    assert _events(migrated_db, finished) == before
    assert [e["type"] for e in before] == ["run_started", "run_completed"]


def test_emit_run_event_is_general_and_internal(migrated_db: str) -> None:
    """emit_run_event adds the envelope and the next seq; API roles cannot call it."""
    world = seed(migrated_db)
    topic = f"run:{world.run}"
    n = len(_events(migrated_db, topic))
    with psycopg.connect(migrated_db) as conn:
        (seq,) = conn.execute(
            "select private.emit_run_event(%s, 'flaky_test_detected', %s)",
            (world.run, json.dumps({"test_key": "login", "seq": 999, "type": "forged"})),
        ).fetchone() or (None,)
        assert seq == n + 1
        unknown = conn.execute(
            "select private.emit_run_event(%s, 'x', null)", (uuid.uuid4(),)
        ).fetchone()
        assert unknown == (None,)
    with pytest.raises(errors.InvalidParameterValue), psycopg.connect(migrated_db) as conn:
        conn.execute("select private.emit_run_event(%s, 'Bad Type', null)", (world.run,))
    last = _events(migrated_db, topic)[-1]
    assert (last["type"], last["seq"], last["test_key"]) == ("flaky_test_detected", n + 1, "login")
    for actor in ("editor", "owner"):
        with (
            pytest.raises(errors.InsufficientPrivilege),
            acting_as(migrated_db, world, actor) as cur,
        ):
            cur.execute("select private.emit_run_event(%s, 'x', null)", (world.run,))


def test_token_changes_are_named_not_shown(migrated_db: str) -> None:
    """Setting and removing a shared token broadcasts its name only."""
    world = seed(migrated_db)
    with psycopg.connect(migrated_db) as conn:
        conn.execute(
            "select public.set_shared_auth_token(%s, 'bearer', 'ciphertext-s3cr3t')", (world.run,)
        )
        conn.execute("select public.set_shared_auth_token(%s, 'bearer', null)", (world.run,))
        conn.execute("select public.set_shared_variables(%s, '{\"cart\": 42}')", (world.run,))
        conn.execute("select public.set_shared_variables(%s, '{\"cart\": 42}')", (world.run,))
    events = [e for e in _events(migrated_db, f"run:{world.run}") if e["type"] == "context_updated"]
    assert [(e["tokens"], e["removed"]["tokens"], e["variables"]) for e in events] == [
        (["bearer"], [], []),
        ([], ["bearer"], []),
        ([], [], ["cart"]),  # the same value written again says nothing
    ]
    assert "s3cr3t" not in json.dumps(events) and "42" not in json.dumps(
        [e["variables"] for e in events]
    )


def _context_events(url: str, run: Any) -> list[dict[str, Any]]:
    return [e for e in _events(url, f"run:{run}") if e["type"] == "context_updated"]


def _merge(url: str, run: Any, data: dict[str, Any]) -> None:
    with psycopg.connect(url) as conn:
        conn.execute("select public.merge_captured_data_many(%s, %s)", (run, json.dumps(data)))


def test_merging_new_keys_names_them_once(migrated_db: str) -> None:
    """A batch of new test keys gives one context_updated naming each key's values, sorted."""
    world = seed(migrated_db)
    _merge(migrated_db, world.run, {"b_create": {"zeta": "v1", "alpha": "v2"}, "a_login": {}})
    _merge(migrated_db, world.run, {"c_get": {"id": "x"}})
    events = _context_events(migrated_db, world.run)
    nothing_removed = {"captured": [], "variables": [], "tokens": []}
    assert [(e["captured"], e["variables"], e["tokens"], e["removed"]) for e in events] == [
        ({"b_create": ["alpha", "zeta"], "a_login": []}, [], [], nothing_removed),
        ({"c_get": ["id"]}, [], [], nothing_removed),
    ]
    assert "v1" not in json.dumps(events)
    ((captured,),) = _rows(
        migrated_db,
        "select captured_data from test_execution_context where run_id = %s",
        (world.run,),
    )
    assert captured == {
        "b_create": {"zeta": "v1", "alpha": "v2"},
        "a_login": {},
        "c_get": {"id": "x"},
    }


def test_merging_into_an_existing_key_names_only_what_changed(migrated_db: str) -> None:
    """A batch touching a key already captured reports only the values that really changed."""
    world = seed(migrated_db)
    _merge(migrated_db, world.run, {"create": {"id": "1", "etag": "e"}})
    _merge(migrated_db, world.run, {"create": {"id": "1", "name": "n"}, "other": {"k": "v"}})
    _merge(migrated_db, world.run, {"create": {"id": "1"}})  # the same value again
    events = _context_events(migrated_db, world.run)
    assert [e["captured"] for e in events] == [
        {"create": ["etag", "id"]},
        {"create": ["name"], "other": ["k"]},
    ]


def test_running_tests_bookkeeping_is_not_a_context_change(migrated_db: str) -> None:
    """tests_started and recorded results move running_tests without a context_updated."""
    world = seed(migrated_db)
    _merge(migrated_db, world.run, {"login": {"token": "t"}})
    with psycopg.connect(migrated_db) as conn:
        conn.execute("select public.tests_started(%s, %s)", (world.run, ["catalog"]))
        conn.execute(
            "select public.record_results(%s, %s)",
            (world.run, json.dumps([{"test_key": "catalog", "name": "C", "status": "passed"}])),
        )
    assert [e["captured"] for e in _context_events(migrated_db, world.run)] == [
        {"login": ["token"]}
    ]


def test_other_writers_in_the_same_transaction_are_still_broadcast(migrated_db: str) -> None:
    """The skip marker of a run function ends with it: a later direct update still broadcasts."""
    world = seed(migrated_db)
    with psycopg.connect(migrated_db) as conn:
        conn.execute(
            "select public.merge_captured_data_many(%s, %s)", (world.run, '{"a": {"x": 1}}')
        )
        conn.execute("select public.tests_started(%s, %s)", (world.run, ["b"]))
        assert conn.execute("select current_setting('runner.context_event', true)").fetchone() == (
            "",
        )
        conn.execute(
            "update test_execution_context set captured_data = captured_data || %s"
            " where run_id = %s",
            ('{"manual": {"y": 2}}', world.run),
        )
    assert [e["captured"] for e in _context_events(migrated_db, world.run)] == [
        {"a": ["x"]},
        {"manual": ["y"]},
    ]


def test_rolled_back_writes_leave_no_event_and_no_gap(migrated_db: str) -> None:
    """An event exists exactly when its row commits: a rollback takes event and seq back."""
    world = seed(migrated_db)
    topic = f"run:{world.run}"
    n = len(_events(migrated_db, topic))
    row = json.dumps([{"test_key": "late", "name": "Late", "status": "passed"}])
    with psycopg.connect(migrated_db) as conn:
        with conn.transaction(force_rollback=True):
            conn.execute("select public.record_results(%s, %s)", (world.run, row))
        conn.execute("select public.record_results(%s, %s)", (world.run, row))
    events = _events(migrated_db, topic)
    assert [e["seq"] for e in events] == list(range(1, n + 2))
    assert events[-1]["test_key"] == "late"


def test_runs_and_results_are_published_but_not_the_context(migrated_db: str) -> None:
    """supabase_realtime publishes test_runs and test_results, never test_execution_context."""
    published = {
        r[0]
        for r in _rows(
            migrated_db,
            "select tablename from pg_publication_tables "
            "where pubname = 'supabase_realtime' and schemaname = 'public'",
        )
    }
    assert {"test_runs", "test_results"} <= published
    assert "test_execution_context" not in published


def test_a_failed_broadcast_never_fails_the_recording(migrated_db: str) -> None:
    """If realtime.messages refuses rows, results and starts are still written (a seq gap)."""
    world = seed(migrated_db)
    row = json.dumps([{"test_key": "late", "name": "Late", "status": "passed"}])
    with psycopg.connect(migrated_db) as conn, conn.transaction(force_rollback=True):
        conn.execute(
            "alter table realtime.messages "
            "add constraint refuse check (topic = 'nowhere') not valid"
        )
        conn.execute("select public.tests_started(%s, %s)", (world.run, ["late"]))
        assert conn.execute(
            "select public.record_results(%s, %s)", (world.run, row)
        ).fetchone() == (1,)
        (sent,) = conn.execute(
            "select count(*) from realtime.messages where payload ->> 'test_key' = 'late'"
        ).fetchone() or (None,)
        assert sent == 0


def test_run_completed_comes_after_other_finish_triggers_events(migrated_db: str) -> None:
    """Events emitted by another finish trigger (as 0014's analysis does) precede run_completed."""
    world = seed(migrated_db)
    topic = f"run:{world.run}"
    with psycopg.connect(migrated_db) as conn, conn.transaction(force_rollback=True):
        conn.execute(
            "create function pg_temp.probe() returns trigger language plpgsql as $$ begin "
            "perform private.emit_run_event(new.id, 'flaky_test_detected', '{}'); "
            "return null; end $$"
        )
        conn.execute(
            "create trigger zz_probe after update of status on test_runs "
            "for each row execute function pg_temp.probe()"
        )
        conn.execute("select public.finish_run(%s, 'failed')", (world.run,))
        rows = conn.execute(
            "select event, (payload ->> 'seq')::int from realtime.messages "
            "where topic = %s order by 2",
            (topic,),
        ).fetchall()
        (last,) = conn.execute(
            "select event_seq from test_runs where id = %s", (world.run,)
        ).fetchone() or (None,)
    assert [r[0] for r in rows[-2:]] == ["flaky_test_detected", "run_completed"]
    assert [r[1] for r in rows] == list(range(1, len(rows) + 1)) and last == len(rows)


def test_concurrent_writers_get_seq_in_commit_order(migrated_db: str) -> None:
    """A writer that allocates while another holds the run gets the seqs after it, no gap."""
    world = seed(migrated_db)
    rows = json.dumps([{"test_key": f"a{i}", "name": "A", "status": "passed"} for i in range(3)])
    with psycopg.connect(migrated_db) as first, psycopg.connect(migrated_db) as watcher:
        first.execute("select public.record_results(%s, %s)", (world.run, rows))  # uncommitted
        with ThreadPoolExecutor(1) as pool:
            second = pool.submit(_started_in_own_transaction, migrated_db, world.run, ["b0", "b1"])
            # wait (bounded) until the second writer queues behind the first one's row lock
            deadline = time.monotonic() + 30
            waiting = (
                "select exists (select 1 from pg_stat_activity where datname = current_database()"
                " and wait_event_type = 'Lock' and query like '%%tests_started%%')"
            )
            while watcher.execute(waiting).fetchone() != (True,):
                assert time.monotonic() < deadline, "the second writer never waited"
                watcher.commit()
            first.commit()
            assert second.result(timeout=30) == 2
    events = _events(migrated_db, f"run:{world.run}")
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    keys = [e.get("test_key") for e in events[-5:]]
    assert sorted(keys[:3]) == ["a0", "a1", "a2"] and keys[3:] == ["b0", "b1"]


def _started_in_own_transaction(url: str, run: uuid.UUID, keys: list[str]) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("select public.tests_started(%s, %s)", (run, keys)).fetchone()
    assert row is not None
    return int(row[0])
