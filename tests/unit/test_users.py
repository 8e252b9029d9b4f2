"""Suite users: one login per user per run, shared by every as_user test."""

from __future__ import annotations

import json
from collections import Counter

import httpx
import pytest
from test_engine import by_key, plan_of, run

from runner.errors import SuiteError
from runner.models import Status, Suite
from runner.suite.load import load_suite_text

USERS = """
name: users
base_url: http://api.test
users:
  alice:
    role: member
    login:
      request: {method: POST, url: /login, json: {user: alice}}
      token: $.token
  bob:
    role: admin
    login:
      request: {method: POST, url: /login, json: {user: bob}}
      token: $.token
      refresh: {on_status: [401]}
tests:
"""


def many_tests(count: int) -> str:
    return "".join(
        f"  - id: t{i}\n    as_user: {'alice' if i % 2 else 'bob'}\n    request: {{url: /me}}\n"
        f"    checks: {{status: 200}}\n"
        for i in range(count)
    )


async def test_one_login_per_user_however_many_parallel_tests_use_it() -> None:
    """Sixteen tests at concurrency 8 cause exactly one login request per user."""
    logins: Counter[str] = Counter()
    sent: Counter[str] = Counter()

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/login":
            user = json.loads(request.content)["user"]
            logins[user] += 1
            return httpx.Response(200, json={"token": f"tok-{user}"})
        sent[request.headers["authorization"]] += 1
        return httpx.Response(200, json={})

    result = await run(USERS + many_tests(16), handler, concurrency=8)
    assert logins == {"alice": 1, "bob": 1}
    results = by_key(result)
    assert all(r.status is Status.PASSED for r in results.values())
    assert len(results) == 18
    assert results["t1"].request is not None
    assert results["t1"].request.headers["Authorization"] == "[REDACTED]"
    assert sent == {"Bearer tok-alice": 8, "Bearer tok-bob": 8}


def test_as_user_makes_the_login_a_dependency() -> None:
    """The planner sees the bearer header and runs login_<user> first."""
    plan = plan_of(USERS + many_tests(2))
    assert plan.dependencies("t0") == ("login_bob",)
    assert plan.dependencies("t1") == ("login_alice",)
    login = plan.test("login_bob")
    assert login.captures["token"].as_token == "bob"
    assert login.captures["token"].refresh is not None
    assert "role:admin" in login.tags


def test_a_suite_with_users_survives_a_dump_and_reload() -> None:
    """Dumping and validating again gives the same tests, no second login or header."""
    suite = load_suite_text(USERS + many_tests(2), file="s.yaml").suite
    again = Suite.model_validate(suite.model_dump(by_alias=True))
    assert again.tests == suite.tests


def test_as_user_with_an_unknown_user_is_a_suite_error() -> None:
    """as_user must name a declared user."""
    with pytest.raises(SuiteError, match="no such user"):
        load_suite_text(USERS + "  - {id: x, as_user: carol, request: {url: /}}\n", file="s.yaml")


def test_a_test_named_like_a_user_login_is_a_suite_error() -> None:
    """login_<user> is reserved for the user's login test."""
    with pytest.raises(SuiteError, match="is taken"):
        load_suite_text(USERS + "  - {id: login_alice, request: {url: /}}\n", file="s.yaml")


def test_a_tests_own_authorization_header_wins_over_as_user() -> None:
    """A test that sets Authorization itself keeps it."""
    text = USERS + "  - {id: x, as_user: alice, request: {url: /, headers: {Authorization: k}}}\n"
    suite = load_suite_text(text, file="s.yaml").suite
    assert suite.test("x").request.headers == {"Authorization": "k"}
