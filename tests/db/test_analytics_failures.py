"""Failure fingerprints: (category, endpoint, normalised message), grouped across test cases."""

from __future__ import annotations

import hashlib
import json

import psycopg
import pytest
from analytics_history import at, result, rows, run, seed_history

pytestmark = pytest.mark.db

ITEMS = {
    "request": {"method": "get", "url": "https://shop.test/items/{{ captured.login.item }}?p=2"}
}


def test_endpoint_comes_from_the_test_definition_or_the_request(migrated_db: str) -> None:
    """Linked endpoint, else the definition's template, else the sent path with ids as {id}."""
    world = seed_history(migrated_db)
    with psycopg.connect(migrated_db) as conn:
        conn.execute("delete from failure_analysis")
        conn.execute(
            "update test_cases set definition = %s where id = %s",
            (json.dumps(ITEMS), world.catalog),
        )
    sent = {
        "method": "DELETE",
        "url": "http://h:8080/orders/42/lines/1b4e28ba-2fa1-11d2-883f-0016d3cca427",
    }
    when = at(0)
    run(
        migrated_db,
        world,
        when,
        [
            result(world, "catalog", "failed", when, message="expected 3 items, got 4"),
            result(world, "cart", "error", when, category="http_5xx", message="HTTP 503"),
            result(world, "login", "error", when, category="connection", request=sent),
        ],
    )
    found = rows(
        migrated_db,
        "select c.stable_id, f.endpoint, f.error_category, f.normalized_message, f.fingerprint "
        "from failure_analysis f join test_cases c on c.id = f.test_case_id order by 1",
    )
    assert [r[:4] for r in found] == [
        ("cart", "POST /cart", "http_5xx", "http <n>"),
        ("catalog", "GET /items/{captured.login.item}", "assertion", "expected <n> items, got <n>"),
        ("login", "DELETE /orders/{id}/lines/{id}", "connection", "login error"),
    ]
    for _, endpoint, category, normalized, fingerprint in found:
        expected = hashlib.md5(f"{category}:{endpoint}:{normalized}".encode()).hexdigest()  # noqa: S324
        assert fingerprint == expected


def test_top_failures_groups_test_cases_hitting_the_same_endpoint(migrated_db: str) -> None:
    """Two tests failing the same way on one endpoint are one group; counts and times add up."""
    world = seed_history(migrated_db)
    with psycopg.connect(migrated_db) as conn:
        conn.execute("delete from failure_analysis")
        conn.execute(
            "update test_cases set definition = %s where id = any(%s)",
            (json.dumps(ITEMS), [world.catalog, world.login]),
        )
    timeout = {"category": "timeout"}
    for day, (test, seconds) in enumerate([("catalog", 30), ("login", 45), ("catalog", 5)]):
        when = at(day)
        run(
            migrated_db,
            world,
            when,
            [result(world, test, "error", when, message=f"timed out after {seconds} s", **timeout)],
        )
    when = at(3)
    # same message, another endpoint: another group
    run(
        migrated_db,
        world,
        when,
        [result(world, "cart", "error", when, message="timed out after 1 s", **timeout)],
    )
    top = rows(
        migrated_db,
        "select endpoint, normalized_message, occurrences, test_cases, tests, first_seen, "
        "last_seen, sample_message from top_failures where project_id = %s",
        (world.project,),
    )
    assert top[0] == (
        "GET /items/{captured.login.item}",
        "timed out after <n> s",
        3,
        2,
        ["catalog", "login"],
        at(0),
        at(2),
        "timed out after 5 s",
    )
    # the seeded failure of cart ("expected 3 items, got 4") was deleted above
    assert [(r[0], r[2]) for r in top[1:]] == [("POST /cart", 1)]
